"""`precheck check` loads the function that reads the run while the run runs (Session.preload)."""

from __future__ import annotations

from precheck import wiring
from precheck.cli_session import Session
from precheck.layout import match
from precheck.local import find_functions_dir
from precheck.settings import Settings


def _session(tmp_path) -> Session:
    settings = Settings.from_environ({"PRECHECK_HOME": str(tmp_path),
                                      "PRECHECK_FUNCTIONS_DIR": str(find_functions_dir())})
    return Session(settings)


def test_preload_loads_the_function_of_the_route(tmp_path):
    opened = _session(tmp_path)
    try:
        path = "/instances/i-1/prechecks/r-1"
        reader = match("GET", path).route
        assert reader is not None and reader.function not in opened.functions._loaded
        opened.preload("GET", path)
        assert list(opened.functions._loaded) == [reader.function]
    finally:
        wiring.use(None)


def test_preload_of_a_path_no_route_takes_loads_nothing(tmp_path):
    opened = _session(tmp_path)
    try:
        opened.preload("GET", "/no/such/route")
        opened.preload("DELETE", "/instances/i-1/prechecks/r-1")
        assert opened.functions._loaded == {}
    finally:
        wiring.use(None)
