"""The SQL Server Browser (MC-SQLR) of the TDS emulator: raw UDP requests, and real clients resolving
``host\\INSTANCE`` through UDP 1434 (FreeTDS via pyodbc and tsql, python-tds).

Clients always ask port 1434 of the host, so those tests bind 1434 on a random loopback address
(127.x.y.z) where nothing else listens; they are skipped where binding a port below 1024 is not allowed.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pyodbc
import pytds
import pytest

from tds_emulator import CatalogError, SqlServerEmulator
from tds_emulator.browser import Instance, SqlBrowser, ask

pytestmark = pytest.mark.emulator

USER, PASSWORD = "browse", "pw"
VERSION = "16.0.1000.6"


def catalog(instance_name: str = "INST1", **extra) -> dict:
    return {"version": VERSION, "server_name": "DBHOST", "instance_name": instance_name,
            "logins": [{"name": USER, "password": PASSWORD, "sysadmin": True}], **extra}


def expected(instances: list[tuple[str, int]]) -> bytes:
    data = "".join(f"ServerName;DBHOST;InstanceName;{name};IsClustered;No;Version;{VERSION};tcp;{port};;"
                   for name, port in instances).encode()
    return b"\x05" + struct.pack("<H", len(data)) + data


# ---- the protocol -------------------------------------------------------------------------------------------
def test_clnt_ucast_inst_gets_the_documented_answer(sqlserver_emulator):
    """0x04 + instance name + 0x00 is answered with SVR_RESP: 0x05, a little-endian length, the string."""
    emulator = sqlserver_emulator(catalog(), browser_port=0)
    assert emulator.browser is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(5)
        client.sendto(b"\x04INST1\x00", (emulator.host, emulator.browser.port))
        assert client.recv(65535) == expected([("INST1", emulator.port)])
    assert ask(emulator.host, "inst1", emulator.browser.port) == expected([("INST1", emulator.port)])


def test_clnt_ucast_ex_and_bcast_ex_list_every_instance():
    """0x03 (unicast) and 0x02 (broadcast) list all instances the Browser knows, one after the other."""
    with SqlBrowser("127.0.0.1", 0) as browser:
        browser.add(Instance("DBHOST", "INST1", VERSION, 50001)).add(Instance("DBHOST", "SALES", VERSION, 50002))
        listing = expected([("INST1", 50001), ("SALES", 50002)])
        assert ask("127.0.0.1", None, browser.port) == listing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"\x02", ("127.0.0.1", browser.port))
            assert client.recv(65535) == listing


def test_unknown_instances_and_unknown_requests_get_no_answer():
    """As MC-SQLR says, only a request understood for an existing instance is answered; the Browser keeps
    serving afterwards."""
    with SqlBrowser("127.0.0.1", 0) as browser:
        browser.add(Instance("DBHOST", "INST1", VERSION, 50001))
        assert ask("127.0.0.1", "NOPE", browser.port, timeout=0.3) is None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(0.3)
            for garbage in (b"\x0f\x01INST1\x00", b"\x07", b"\x04"):
                client.sendto(garbage, ("127.0.0.1", browser.port))
                with pytest.raises(TimeoutError):
                    client.recv(65535)
        assert ask("127.0.0.1", "INST1", browser.port) == expected([("INST1", 50001)])


def test_stop_releases_the_port():
    """stop() returns and the UDP port can be bound again at once."""
    browser = SqlBrowser("127.0.0.1", 0).start()
    port = browser.port
    browser.stop()
    with SqlBrowser("127.0.0.1", port) as again:
        again.add(Instance("DBHOST", "INST1", VERSION, 1))
        assert ask("127.0.0.1", "INST1", port) is not None


def test_instance_names_are_validated():
    """An instance name SQL Server would not accept is a CatalogError."""
    for bad in ("A\\B", "with space", "X" * 17):
        with pytest.raises(CatalogError):
            SqlServerEmulator(catalog(bad))


# ---- real clients -------------------------------------------------------------------------------------------
def test_freetds_connects_to_host_backslash_instance(sqlserver_named_instance):
    """pyodbc + FreeTDS with SERVER=host\\INST1 and no port asks the Browser on UDP 1434, then logs in."""
    emulator = sqlserver_named_instance(catalog())
    cs = (f"DRIVER={{FreeTDS}};SERVER={emulator.host}\\INST1;UID={USER};PWD={{{PASSWORD}}};TDS_Version=7.4;"
          "ClientCharset=UTF-8")
    with pyodbc.connect(cs, timeout=10, autocommit=True) as cnxn:
        assert cnxn.execute("SELECT 42").fetchval() == 42


def test_pytds_connects_to_host_backslash_instance(sqlserver_named_instance):
    """python-tds resolves dsn='host\\INST1' through the Browser too."""
    emulator = sqlserver_named_instance(catalog())
    with pytds.connect(dsn=f"{emulator.host}\\INST1", user=USER, password=PASSWORD, login_timeout=10, timeout=10,
                       autocommit=True) as cnxn:
        with cnxn.cursor() as cursor:
            cursor.execute("SELECT 42")
            assert cursor.fetchone()[0] == 42


def test_tsql_lists_the_instances_and_connects(sqlserver_named_instance, tmp_path: Path):
    """tsql -L (CLNT_UCAST_EX) prints what the Browser says; a freetds.conf entry naming the instance
    connects without a port."""
    emulator = sqlserver_named_instance(catalog())
    listing = subprocess.run(["tsql", "-L", "-H", emulator.host], capture_output=True, text=True, timeout=60)
    text = listing.stdout + listing.stderr
    assert "InstanceName INST1" in " ".join(text.split()) and f"tcp {emulator.port}" in " ".join(text.split())
    conf = tmp_path / "freetds.conf"
    conf.write_text(f"[emu]\n\thost = {emulator.host}\n\tinstance = INST1\n\ttds version = 7.4\n")
    done = subprocess.run(["tsql", "-S", "emu", "-U", USER, "-P", PASSWORD], input="SELECT 4242\ngo\nexit\n",
                          capture_output=True, text=True, timeout=60, env={**os.environ, "FREETDSCONF": str(conf)})
    assert "4242" in done.stdout, done.stdout + done.stderr


def test_cli_prints_the_certificate_and_the_browser(tmp_path: Path):
    """--encryption, --instance-name and --browser-port: the CLI prints where the certificate and the
    Browser are, and the Browser answers for the instance."""
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text('{"logins": [{"name": "u", "password": "pw"}]}')
    process = subprocess.Popen([sys.executable, "-m", "tds_emulator", "--catalog", str(catalog_file), "--port", "0",
                                "--encryption", "on", "--instance-name", "NAMED", "--browser-port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        listening, certificate, browser = (process.stdout.readline().strip() for _ in range(3))
        assert listening.startswith("listening on 127.0.0.1:")
        assert certificate.startswith("certificate ") and Path(certificate.split(" ", 1)[1]).is_file()
        port = int(browser.rsplit(":", 1)[1])
        answer = ask("127.0.0.1", "NAMED", port)
        assert answer is not None and f"tcp;{listening.rsplit(':', 1)[1]};;".encode() in answer
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_a_named_instance_says_its_name(sqlserver_emulator):
    """@@SERVERNAME and SERVERPROPERTY('ServerName') are HOST\\INSTANCE, InstanceName and @@SERVICENAME the
    instance; the default instance keeps HOST, NULL and MSSQLSERVER."""
    query = ("SELECT @@SERVERNAME, CAST(SERVERPROPERTY('ServerName') AS NVARCHAR(128)), "
             "CAST(SERVERPROPERTY('InstanceName') AS NVARCHAR(128)), @@SERVICENAME")
    for instance, expected_row in (("INST1", ("DBHOST\\INST1", "DBHOST\\INST1", "INST1", "INST1")),
                                   ("MSSQLSERVER", ("DBHOST", "DBHOST", None, "MSSQLSERVER"))):
        emulator = sqlserver_emulator(catalog(instance))
        cs = (f"DRIVER={{FreeTDS}};SERVER={emulator.host};PORT={emulator.port};UID={USER};PWD={{{PASSWORD}}};"
              "TDS_Version=7.4;ClientCharset=UTF-8")
        with pyodbc.connect(cs, timeout=5, autocommit=True) as cnxn:
            assert tuple(cnxn.execute(query).fetchone()) == expected_row


def test_prelogin_flags_another_instance_name(sqlserver_emulator):
    """PRELOGIN's INSTOPT answer is 0x00 for this instance's name (or none) and 0x01 for another."""
    emulator = sqlserver_emulator(catalog())

    def instopt(name: bytes) -> int:
        options = [(0, bytes(6)), (1, b"\x02"), (2, name + b"\x00")]
        head, data, offset = bytearray(), bytearray(), len(options) * 5 + 1
        for token, value in options:
            head += struct.pack(">BHH", token, offset + len(data), len(value))
            data += value
        payload = bytes(head) + b"\xff" + bytes(data)
        with socket.create_connection((emulator.host, emulator.port), timeout=10) as client:
            client.sendall(struct.pack(">BBHHBB", 0x12, 0x01, 8 + len(payload), 0, 1, 0) + payload)
            answer = client.recv(4096)[8:]
        pos = 0
        while answer[pos] != 0xFF:
            token, at, _ = struct.unpack_from(">BHH", answer, pos)
            if token == 2:
                return answer[at]
            pos += 5
        raise AssertionError("no INSTOPT in the answer")

    assert instopt(b"") == 0 and instopt(b"inst1") == 0 and instopt(b"OTHER") == 1
