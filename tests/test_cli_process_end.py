"""The command line as a process pays only for what it uses: `--version`'s lookup only when asked, and the
interpreter's teardown skipped once the command is done (`cli._end_process`): exit functions still run, and
a process with work still running exits the usual way, joining it."""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import threading

import pytest

from precheck import cli, cli_session


class Ended(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@pytest.fixture()
def ending(monkeypatch):
    """What `_end_process` did: the exit functions run (in order) and `os._exit` (raising `Ended` instead)."""
    calls: list[str] = []

    def _exit(code: int) -> None:
        calls.append(f"exit {code}")
        raise Ended(code)

    monkeypatch.setattr(cli.os, "_exit", _exit)
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: calls.append("exit functions"))
    return calls


def test_building_the_parser_looks_up_no_version():
    code = ("import sys; from precheck import cli; cli.build_parser().parse_args(['list']); "
            "print('importlib.metadata' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_command_run_as_the_process_ends_it_after_the_exit_functions(ending, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PRECHECK_HOME", str(tmp_path))
    monkeypatch.delenv("PRECHECK_STORE", raising=False)
    monkeypatch.setattr(sys, "argv", ["precheck", "list", "--format", "json"])
    with pytest.raises(Ended) as ended:
        cli.main()
    assert ended.value.code == 0
    assert ending == ["exit functions", "exit 0"]
    assert json.loads(capsys.readouterr().out) == {"instances": []}  # written before the end


def test_called_with_arguments_main_returns(ending, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PRECHECK_HOME", str(tmp_path))
    monkeypatch.delenv("PRECHECK_STORE", raising=False)
    assert cli.main(["list", "--format", "json"]) == 0  # a test (or a caller) keeps its process
    assert ending == [] and json.loads(capsys.readouterr().out) == {"instances": []}


def test_work_still_running_is_joined_as_usual(ending, monkeypatch):
    monkeypatch.setattr(cli_session, "invokers_idle", lambda: False)
    cli._end_process(0)  # returns: the interpreter's own exit waits for the invoker's work
    assert ending == []


def test_another_thread_still_alive_is_joined_as_usual(ending):
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="someone-else")
    worker.start()
    try:
        cli._end_process(0)
    finally:
        stop.set()
        worker.join()
    assert ending == []


def test_only_junit_loads_the_xml_library():
    code = ("import sys; from precheck.exports import export; export([], 'json'); export([], 'csv'); "
            "print('xml.etree.ElementTree' in sys.modules); export([], 'junit'); "
            "print('xml.etree.ElementTree' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
