"""The Tablestore SDK loaded in part (precheck.adapters.tablestore.partial, docs/cold-start.md).

Every check runs in a fresh interpreter: this one may have imported the whole SDK already (the emulator does).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = ROOT / "shared" / "precheck" / "adapters" / "tablestore"
PARTIAL = ADAPTER / "partial.py"

#: loads partial.py alone, by path (the adapter's package would load the SDK on import), as `partial`
LOAD_ALONE = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("partial", {str(PARTIAL)!r})
partial = importlib.util.module_from_spec(spec)
sys.modules["partial"] = partial
spec.loader.exec_module(partial)
"""


def python(code: str, *, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_store_contract_suite_passes_through_the_partial_sdk():
    """(a) the store's contract tests (tests/contract, Tablestore against its emulator), SDK loaded in part."""
    done = python("import sys, pytest\n"
                  "import precheck.adapters.tablestore.sdk as sdk\n"
                  "assert sdk.PARTIAL, 'the SDK was not loaded in part'\n"
                  "code = pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/contract/test_store_contract.py', "
                  "'-k', 'tablestore'])\n"
                  "assert getattr(sys.modules['tablestore'], '__partial__', False), 'replaced by the whole SDK'\n"
                  "sys.exit(code)", check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


@pytest.mark.parametrize("function", ["start_precheck", "get_last_result", "collect_outcome"])
def test_a_first_call_in_the_cloud_configuration_imports_no_async_or_time_series_part(function):
    """(b) each API function, imported and called once against the Tablestore emulator and a fake FC endpoint
    (bench/api_cold_start.py's child), leaves aiohttp, asyncio, numpy, flatbuffers and crc32c unimported."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import api_cold_start as bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    with bench.cloud() as (seeder, env):
        now = bench.child(function, "now", seeder.event(function), env)  # checks the answer's status too
        today = bench.child(function, "today", seeder.event(function), env)
    assert now["loaded"] == []
    assert set(today["loaded"]) >= {"aiohttp", "numpy", "flatbuffers", "crc32c"}  # the check sees them when loaded


def test_an_sdk_version_not_verified_is_refused_loudly():
    """(c) an installed version not in VERIFIED_VERSIONS: PartialSdkError naming both, nothing left loaded."""
    done = python(LOAD_ALONE + "partial.VERIFIED_VERSIONS = ('0.0.1',)\n"
                  "try:\n    partial.load()\nexcept partial.PartialSdkError as error:\n    print(error)\n"
                  "print('tablestore' in sys.modules)\n")
    message, left = done.stdout.strip().splitlines()
    assert "is 6.4.8" in message and "verified only for 0.0.1" in message and "docs/cold-start.md" in message
    assert left == "False"


def test_a_name_the_adapter_uses_missing_from_the_partial_load_is_refused_loudly():
    """(c) a name the adapter needs that the partial load lacks: PartialSdkError naming it."""
    done = python(LOAD_ALONE + "partial.ADAPTER_NAMES += ('NoSuchName',)\n"
                  "try:\n    partial.load()\nexcept partial.PartialSdkError as error:\n    print(error)\n")
    assert "lacks what the adapter uses: NoSuchName" in done.stdout


def test_adapter_names_lists_every_sdk_name_the_adapter_uses():
    """(c) ADAPTER_NAMES, which load() checks, holds every `ots.<name>` and `from tablestore.x import <name>` of
    the adapter's modules: a new use must be added there (and so is checked on every load)."""
    sys.path.insert(0, str(ADAPTER))
    used: set[str] = set()
    for path in ADAPTER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ots":
                used.add(node.attr)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tablestore"):
                used.update(alias.name for alias in node.names)
    names = ast.literal_eval(next(node.value for node in ast.parse(PARTIAL.read_text(encoding="utf-8")).body
                                  if isinstance(node, ast.AnnAssign | ast.Assign)
                                  and "ADAPTER_NAMES" in ast.unparse(node)))
    assert used and used <= set(names), sorted(used - set(names))


SURFACE = """
import json, sys, importlib
{load}
report = {{}}
for name in ("tablestore", "tablestore.client", "tablestore.connection", "tablestore.encoder", "tablestore.decoder",
             "tablestore.protocol"):
    module = importlib.import_module(name)
    report[name] = sorted(each for each in vars(module) if not each.startswith("__"))
print(json.dumps(report))
"""


def test_every_name_the_loaded_modules_use_is_there_as_in_the_whole_sdk():
    """(c) what the whole SDK gives each module and the partial one lacks (names the refused modules' `*`
    carried along) is never used by that module's code, and the package has every name of its `__all__`."""
    whole = json.loads(python(SURFACE.format(load="import tablestore")).stdout)
    part = json.loads(python(SURFACE.format(load=LOAD_ALONE + "partial.load()")).stdout)
    import importlib.util

    spec = importlib.util.find_spec("tablestore")
    assert spec is not None and spec.submodule_search_locations
    package = Path(list(spec.submodule_search_locations)[0])
    for name, names in whole.items():
        lacking = set(names) - set(part[name])
        source = package / ("__init__.py" if name == "tablestore" else name.split(".", 1)[1] + ".py")
        used = {node.id for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
                if isinstance(node, ast.Name)} | {node.attr for node in ast.walk(ast.parse(
                    source.read_text(encoding="utf-8"))) if isinstance(node, ast.Attribute)}
        if name == "tablestore":  # the package: every exported name, submodules aside
            lacking = {each for each in lacking if not isinstance(each, str) or each in _all_of(source)}
            assert not lacking, f"the partial package lacks {sorted(lacking)}"
        else:
            assert not (lacking & used), f"{name} uses {sorted(lacking & used)}, which the partial load lacks"


def _all_of(init: Path) -> set[str]:
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_touching_a_refused_part_raises_the_clear_error_and_leaves_the_real_modules_alone():
    """(d) the async client, time series writes and SQL results raise PartialSdkError naming what was not
    loaded; aiohttp imported afterwards by anyone else is the real one."""
    done = python(LOAD_ALONE + """
ots = partial.load()
import tablestore.encoder, tablestore.decoder
def client():
    return ots.AsyncOTSClient("http://127.0.0.1:1", "id", "secret", "instance")
for attempt in (lambda: client()._get_or_create_connection(),
                lambda: tablestore.encoder.get_column_val_by_tp("table", []),
                lambda: tablestore.encoder.crc32c.crc32c(b""),
                lambda: tablestore.decoder.SQLResponseColumns.GetRootAsSQLResponseColumns(b"")):
    try:
        attempt()
    except partial.PartialSdkError as error:
        print(error)
    else:
        print("NOT REFUSED")
print("aiohttp" in sys.modules)
import aiohttp
print(type(aiohttp).__name__, hasattr(aiohttp, "ClientSession") and callable(aiohttp.ClientSession))
""")
    lines = done.stdout.strip().splitlines()
    assert "NOT REFUSED" not in lines
    assert lines[0].startswith("aiohttp.") and "the async client" in lines[0], lines[0]
    assert "time series writes" in lines[1] and "get_column_val_by_tp is not loaded" in lines[1]
    assert "time series writes" in lines[2] and "crc32c.crc32c is not loaded" in lines[2]
    assert "SQL query results" in lines[3] and "SQLResponseColumns" in lines[3]
    assert all("docs/cold-start.md" in line for line in lines[:4])
    assert lines[4:] == ["False", "module True"]
