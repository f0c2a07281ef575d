"""Running the functions of `functions/` on a laptop: loading their handlers and giving them a context.

The same `index.py` files FC runs are loaded here by path, so the local flow exercises the real handlers.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

Handler = Callable[[Any, Any], Any]

_loaded: dict[str, Handler] = {}
_lock = threading.Lock()


def functions_dir() -> Path:
    configured = os.environ.get("PRECHECK_FUNCTIONS_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "functions"
        if (candidate / "start_precheck" / "index.py").is_file():
            return candidate
    raise FileNotFoundError("cannot find the functions/ folder; set PRECHECK_FUNCTIONS_DIR to its path")


def function_names() -> list[str]:
    return sorted(path.parent.name for path in functions_dir().glob("*/index.py"))


def load_handler(name: str) -> Handler:
    """The `handler` of functions/<name>/index.py, loaded once per process."""
    with _lock:
        if name not in _loaded:
            path = functions_dir() / name / "index.py"
            if not path.is_file():
                raise LookupError(f"no function named {name!r} (looked for {path.name} in functions/{name}/)")
            module_name = f"fc_function_{name}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            _loaded[name] = module.handler
        return _loaded[name]


def fake_context(function_name: str, request_id: str | None = None, timeout: int = 60) -> SimpleNamespace:
    """A context shaped like FC's: no credentials locally, so adapters fall back to the environment."""
    return SimpleNamespace(
        request_id=request_id or str(uuid.uuid4()),
        credentials=SimpleNamespace(access_key_id=None, access_key_secret=None, security_token=None),
        function=SimpleNamespace(name=function_name, handler="index.handler", memory=256, timeout=timeout),
        service=SimpleNamespace(name="sqlserver-backup-precheck", qualifier="LATEST"),
        region=os.environ.get("PRECHECK_REGION", "local"),
        account_id="local",
    )


def function_arn(function_name: str) -> str:
    return f"acs:fc:local:local:services/sqlserver-backup-precheck.LATEST/functions/{function_name}"


def call(name: str, event: bytes | str | dict, request_id: str | None = None) -> Any:
    """Invoke a function synchronously, as `sam local invoke` would."""
    if isinstance(event, dict):
        import json

        event = json.dumps(event)
    if isinstance(event, str):
        event = event.encode("utf-8")
    return load_handler(name)(event, fake_context(name, request_id))
