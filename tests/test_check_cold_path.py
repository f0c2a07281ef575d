"""The check functions' cold path loads only what a working first call needs (issue 16): the Protocol classes
(precheck.interfaces) and the SQL Server Browser and PRELOGIN helpers stay unloaded, and still work where used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from precheck import interfaces, ports
from precheck.deps import Deps
from tests.helpers import load_event

ROOT = Path(__file__).resolve().parents[1]

_FIRST_CALL = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('index', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "outcome = json.loads(module.handler(sys.argv[2].encode(), None))\n"
    "watched = ['precheck.interfaces', 'precheck.adapters.prelogin', 'precheck.adapters.sqlbrowser']\n"
    "protocols = sorted({f'{value.__module__}.{value.__name__}' for name, module in list(sys.modules.items())\n"
    "                    if name.startswith('precheck') for value in vars(module).values()\n"
    "                    if isinstance(value, type) and getattr(value, '_is_protocol', False)} - {'typing.Protocol'})\n"
    "import re\n"
    "compiled = [key[1] for key in re._cache if key[1] == r'\\((\\d+)\\)']\n"
    "print(json.dumps({'status': outcome['status'], 'protocols': protocols, 'compiled': compiled,\n"
    "                  'loaded': [name for name in watched if name in sys.modules]}))\n"
)


def _first_call(function: str, instance: dict) -> dict:
    request = load_event("check_request")
    request["item"] = function.removeprefix("check_")
    request["instance"].update(instance)
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL, str(ROOT / "functions" / function / "index.py"),
                          json.dumps(request)], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "SQL_PASSWORD_ERP_PROD": "pw"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_sql_check_function_loads_no_protocol_nor_browser_nor_prelogin(sqlserver_emulator):
    """In a fresh interpreter a SQL check's first call that logs in and answers creates no Protocol class and loads
    neither the SQL Server Browser client (no named instance) nor the PRELOGIN probe (the handshake worked), nor
    compiles the pattern that reads a driver error's number."""
    emulator = sqlserver_emulator({"version": "15.0.2000.5",
                                   "logins": [{"name": "backup", "password": "pw", "sysadmin": True}],
                                   "databases": [{"name": "sales", "state": "ONLINE", "recovery_model": "SIMPLE"}]})
    seen = _first_call("check_recovery_mode", {"server": f"127.0.0.1,{emulator.port}", "encrypt": "off"})
    assert seen["status"] == "WARNING", seen  # logged in and read: sales is in SIMPLE recovery
    assert seen["loaded"] == [] and seen["protocols"] == ["precheck.ports.NetworkProbe"]
    assert seen["compiled"] == []  # the driver's error numbers are read only from an error


def test_a_network_check_function_loads_no_protocol():
    """The network items' first call (a TCP probe from the function) creates no Protocol class either."""
    seen = _first_call("check_control_network", {"control_endpoint": "127.0.0.1:1"})
    assert seen["status"] == "FAILED", seen  # nothing listens on port 1: the probe ran
    assert seen["loaded"] == [] and seen["protocols"] == ["precheck.ports.NetworkProbe"]


def test_the_ports_still_offer_every_protocol():
    """`from precheck.ports import ResultStore` (and every other Protocol) gives the class precheck.interfaces
    defines; NetworkProbe stays in ports; an unknown name is still an AttributeError."""
    for name in ports._INTERFACES:
        assert getattr(ports, name) is getattr(interfaces, name)
    from precheck.ports import Refreshable, ResultStore, SqlSession

    assert (Refreshable, ResultStore, SqlSession) == (interfaces.Refreshable, interfaces.ResultStore,
                                                      interfaces.SqlSession)
    assert ports.NetworkProbe.__module__ == "precheck.ports"
    with pytest.raises(AttributeError, match="no_such_protocol"):
        ports.no_such_protocol  # noqa: B018


def test_refresh_still_reaches_the_parts_that_hold_credentials():
    """Deps.refresh hands the new credentials to each built part that is Refreshable (runtime_checkable, loaded
    on use), and leaves the others alone."""

    class Holder:
        def __init__(self) -> None:
            self.got: list[object] = []

        def refresh(self, credentials: object) -> None:
            self.got.append(credentials)

    class Plain:
        pass

    holder, plain = Holder(), Plain()
    deps = Deps(store=holder, invoker=plain)  # type: ignore[arg-type]
    assert isinstance(holder, ports.Refreshable) and not isinstance(plain, ports.Refreshable)
    deps.refresh("new")  # type: ignore[arg-type]
    assert holder.got == ["new"]


@pytest.mark.parametrize("text, refused", [
    ("", False), ("plain", False), ("销售数据 😀", False), ("a\ud800b", True), ("\udfff", True),
    ("\ud83d\ude00", True),  # a pair left as two code points is two lone surrogates to UTF-8
])
def test_text_with_a_surrogate_is_refused_without_a_regex(text, refused):
    """A check request's strings are refused exactly when they hold a surrogate code point (U+D800..U+DFFF)."""
    from precheck.eventjson import BadEvent, check_json_value

    if refused:
        with pytest.raises(BadEvent, match="lone UTF-16 surrogate"):
            check_json_value({"instance": {"user": text}})
    else:
        assert check_json_value({"instance": {"user": text}}) == {"instance": {"user": text}}
