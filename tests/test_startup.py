"""precheck.startup: functions and the command line load their modules with the cyclic collector paused, and the
first load freezes what it made (issue 16: 11-20 ms of collections in a `precheck check`, 6-9 ms in a check
function's cold start). The collector is left as it was found, a failed import included, and every function
loads its modules that way."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import gc, json, sys
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
from precheck.startup import loading
before = gc.get_freeze_count()
with loading():
    at_entry = len(collections)
    import importlib.util
    spec = importlib.util.spec_from_file_location("index", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    during = gc.isenabled()
loaded = len(collections) - at_entry
first_freeze = gc.get_freeze_count()
with loading():
    import precheck.cli
second_freeze = gc.get_freeze_count()
gc.disable()
with loading():
    pass
stays_off = not gc.isenabled()
gc.enable()
try:
    with loading():
        raise ImportError("no such module")
except ImportError:
    pass
print(json.dumps({"before": before, "during": during, "collections_while_loading": loaded, "after": gc.isenabled(),
                  "first_freeze": first_freeze, "second_freeze": second_freeze, "stays_off": stays_off,
                  "after_failure": gc.isenabled()}))
"""


def test_a_function_loads_with_the_collector_paused_then_freezes_once_and_restores_it():
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "functions" / "check_recovery_mode" / "index.py")],
                         capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["during"] is False and seen["collections_while_loading"] == 0  # no collection while importing
    assert seen["after"] is True  # enabled again: the invocations' garbage is collected as before
    assert seen["before"] == 0 and seen["first_freeze"] > 10_000  # the first load froze what the imports made
    assert seen["second_freeze"] == seen["first_freeze"]  # later loads (the command line's functions) do not
    assert seen["stays_off"] is True  # a collector the caller had disabled stays disabled
    assert seen["after_failure"] is True  # a failed import still enables it again


def test_every_function_imports_its_modules_inside_loading():
    """Each functions/*/index.py: `from precheck.startup import loading`, then every other precheck import inside
    `with loading():` (a function that imported outside it would pay the collections again)."""
    for index in sorted(ROOT.glob("functions/*/index.py")):
        tree = ast.parse(index.read_text())
        outside = [node for node in tree.body if isinstance(node, ast.ImportFrom) and node.module
                   and node.module.startswith("precheck") and node.module != "precheck.startup"]
        blocks = [node for node in tree.body if isinstance(node, ast.With)
                  and ast.unparse(node.items[0].context_expr) == "loading()"]
        inside = [node for block in blocks for node in block.body if isinstance(node, ast.ImportFrom)]
        assert not outside and len(blocks) == 1 and inside, index
        assert all(node.module and node.module.startswith("precheck") for node in inside), index


def test_the_console_script_runs_the_command_line_through_startup():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'precheck = "precheck.startup:command"' in text
    out = subprocess.run([sys.executable, "-c", "import sys; sys.argv = ['precheck', '--version'];"
                          "from precheck.startup import command; command()"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("precheck "), out
