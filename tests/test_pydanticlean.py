"""The deployed functions build their models without pydantic's plugin loader (precheck.pydanticlean says why):
each is checked in a fresh interpreter, on its first invocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_INVOCATION = r"""
import importlib.util, json, socket, sys
if sys.argv[2] == "real":  # a process that loaded pydantic's own loader first (a library user's, say)
    import pydantic.plugin._loader
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
event = sys.stdin.read().replace("LISTENER_PORT", str(listener.getsockname()[1])).encode()
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
answer = json.loads(module.handler(event, None))
from precheck import wiring
drain = getattr(wiring.deps(None).invoker, "drain", None)  # start_precheck's checks, in this process
assert drain is None or drain(60)
loader = sys.modules["pydantic.plugin._loader"]
print(json.dumps({"answer": answer.get("statusCode", answer.get("status")), "metadata": "importlib.metadata" in
                  sys.modules, "ours": loader.__name__ == "pydantic.plugin._loader" and not hasattr(loader, "__file__"),
                  "plugins": list(loader.get_plugins())}))
"""


def _first_invocation(function: str, event: bytes, home: Path, loader: str = "none") -> dict:
    env = {**os.environ, "PRECHECK_HOME": str(home)}
    env.pop("PRECHECK_STORE", None)
    done = subprocess.run([sys.executable, "-c", FIRST_INVOCATION, str(ROOT / "functions" / function / "index.py"),
                           loader], input=event, capture_output=True, timeout=180, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def _check_event() -> bytes:
    from precheck.models import CheckRequest, Instance

    instance = Instance(instance_id="lean", region="cn-hangzhou", server="127.0.0.1,1", user="u",
                        password_ref="env:NO_SUCH_VARIABLE_X", control_endpoint="127.0.0.1:65000")
    request = CheckRequest(run_id="0000000000000-lean", instance=instance, item="control_network", deadline=9e9)
    return request.model_dump_json().replace("65000", "LISTENER_PORT").encode()


def test_a_check_functions_first_invocation_loads_no_plugin_machinery(tmp_path: Path) -> None:
    out = _first_invocation("check_control_network", _check_event(), tmp_path)
    assert out == {"answer": "PASSED", "metadata": False, "ours": True, "plugins": []}


def test_start_precheck_first_invocation_loads_no_plugin_machinery(tmp_path: Path) -> None:
    from precheck.testing import Events

    body = {"instance_id": "lean", "region": "cn-hangzhou", "server": "127.0.0.1,1", "user": "u",
            "password_ref": "env:NO_SUCH_VARIABLE_X", "control_endpoint": "127.0.0.1:LISTENER_PORT"}
    out = _first_invocation("start_precheck", Events().api("POST", "/instances", body=body), tmp_path)
    assert out == {"answer": 201, "metadata": False, "ours": True, "plugins": []}


def test_a_function_in_a_process_with_the_real_loader_keeps_it(tmp_path: Path) -> None:
    out = _first_invocation("check_control_network", _check_event(), tmp_path, loader="real")
    assert out["answer"] == "PASSED" and out["ours"] is False


def test_importing_precheck_leaves_the_loader_alone() -> None:
    # a library user's own plugins stay theirs: only the command line and the functions' handling switch them off
    code = ("import sys, precheck, precheck.models, precheck.service\n"
            "print('pydantic.plugin._loader' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
