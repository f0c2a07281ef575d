"""`precheck emulate ...`: the emulators as the product's command line starts them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pyodbc
import pytest

pytestmark = pytest.mark.emulator


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "precheck.cli", "emulate", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    return process, line


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


def test_emulate_sqlserver_serves_a_catalog_file_until_sigterm(tmp_path):
    """`precheck emulate sqlserver --port 0 --catalog FILE` prints its port, answers FreeTDS, stops on SIGTERM."""
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"logins": [{"name": "backup", "password": "pw", "sysadmin": True}],
                                   "databases": [{"name": "sales", "state": "OFFLINE", "recovery_model": "FULL"}]}))
    process, line = start("sqlserver", "--port", "0", "--catalog", str(catalog))
    try:
        assert line.startswith("listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        connection = pyodbc.connect(f"DRIVER={{FreeTDS}};SERVER=127.0.0.1;PORT={port};UID=backup;PWD={{pw}};"
                                    "TDS_Version=7.4;", timeout=5, autocommit=True)
        rows = connection.cursor().execute("SELECT name, state_desc FROM sys.databases WHERE name = 'sales'")
        assert [tuple(row) for row in rows.fetchall()] == [("sales", "OFFLINE")]
        connection.close()
    finally:
        assert stop(process) == 0


def test_emulate_tablestore_starts_and_stops(tmp_path):
    """`precheck emulate tablestore --port 0` prints its endpoint and stops cleanly on SIGTERM."""
    process, line = start("tablestore", "--port", "0", "--data", str(tmp_path / "ots.json"))
    try:
        assert line.startswith("listening on http://127.0.0.1:")
    finally:
        assert stop(process) == 0
