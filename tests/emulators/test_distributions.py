"""Each emulator is a distribution of its own: installed (not editable) into a fresh virtual environment with
nothing else, its console script starts, serves a real client and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pyodbc
import pytest
import tablestore
from tablestore.retry import NoRetryPolicy

from tablestore_emulator.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_INSTANCE
from tests.fixtures.sqlserver import odbc_connection_string

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
VENV_TIMEOUT_S = 120
INSTALL_TIMEOUT_S = 600       # pip's cache makes a rerun take seconds; a cold cache downloads the dependencies
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10


def install(distribution: str, where: Path) -> Path:
    """A fresh virtual environment (this interpreter's) holding only ``emulators/<distribution>`` and its
    dependencies; returns its bin folder. pip builds from a copy of the source, so the checkout gets no
    build/ folder (whose stale files a later wheel would take along)."""
    source = where / "src"
    shutil.copytree(ROOT / "emulators" / distribution, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True, timeout=VENV_TIMEOUT_S)
    bin_dir = where / "venv" / "bin"
    installed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(source)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=_clean_env())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return bin_dir


def package_origin(bin_dir: Path, package: str) -> dict:
    """Where the environment imports ``package`` from, and whether it could import the product at all."""
    probe = ("import importlib.util, json; import " + package + " as p; "
             "print(json.dumps({'file': p.__file__, 'precheck': importlib.util.find_spec('precheck') is not None}))")
    out = subprocess.run([str(bin_dir / "python"), "-c", probe], capture_output=True, text=True, check=True,
                         timeout=START_TIMEOUT_S, cwd=bin_dir, env=_clean_env())
    return json.loads(out.stdout)


def start(command: list[str], cwd: Path) -> tuple[subprocess.Popen, str]:
    """Start a console script in ``cwd`` (its stderr goes to ``cwd/stderr.txt``); returns the process and its
    first line, read within START_TIMEOUT_S."""
    with open(cwd / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=cwd,
                                   env=_clean_env())
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=START_TIMEOUT_S).strip()
    except queue.Empty:
        line = ""
    return process, line


def stop(process: subprocess.Popen) -> int:
    """SIGTERM, then the exit code (within STOP_TIMEOUT_S)."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=STOP_TIMEOUT_S)


def kill(process: subprocess.Popen) -> None:
    """The process ended, whatever state the test left it in."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
    process.stdout.close()


def _clean_env() -> dict[str, str]:
    """This environment without a PYTHONPATH or a virtual environment that could lend the repository's code."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def test_tds_emulator_installs_alone_and_serves_pyodbc(tmp_path):
    """`pip install ./emulators/tds-emulator` then `tds-emulator --catalog FILE --port 0`: a login and a
    catalog query over pyodbc/FreeTDS, exit code 0 on SIGTERM."""
    bin_dir = install("tds-emulator", tmp_path)
    origin = package_origin(bin_dir, "tds_emulator")
    assert origin["file"].startswith(str(tmp_path / "venv")) and not origin["precheck"]
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"logins": [{"name": "backup", "password": "S3cret;pw=", "sysadmin": True}],
                                   "databases": [{"name": "sales", "recovery_model": "FULL"}]}))
    process, line = start([str(bin_dir / "tds-emulator"), "--catalog", str(catalog), "--port", "0"], tmp_path)
    try:
        assert line.startswith("listening on 127.0.0.1:"), (line, (tmp_path / "stderr.txt").read_text())
        port = int(line.rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        server = SimpleNamespace(host="127.0.0.1", port=port)
        with pyodbc.connect(odbc_connection_string(server, "backup", "S3cret;pw="), timeout=5, autocommit=True) as cnxn:
            rows = cnxn.cursor().execute("SELECT name, recovery_model_desc FROM sys.databases WHERE name = ?",
                                         "sales").fetchall()
        assert [tuple(row) for row in rows] == [("sales", "FULL")]
        assert stop(process) == 0
    finally:
        kill(process)


def test_tablestore_emulator_installs_alone_and_serves_the_sdk(tmp_path):
    """`pip install ./emulators/tablestore-emulator` then `tablestore-emulator --port 0`: ListTable through the
    `tablestore` SDK with the emulator's default credentials, exit code 0 on SIGTERM."""
    bin_dir = install("tablestore-emulator", tmp_path)
    origin = package_origin(bin_dir, "tablestore_emulator")
    assert origin["file"].startswith(str(tmp_path / "venv")) and not origin["precheck"]
    process, line = start([str(bin_dir / "tablestore-emulator"), "--port", "0"], tmp_path)
    try:
        assert line.startswith("listening on http://127.0.0.1:"), (line, (tmp_path / "stderr.txt").read_text())
        endpoint = line.removeprefix("listening on ")
        client = tablestore.OTSClient(endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_INSTANCE,
                                      socket_timeout=5, retry_policy=NoRetryPolicy())
        assert client.list_table() == ()
        assert stop(process) == 0
    finally:
        kill(process)
