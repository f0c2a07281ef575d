"""Connecting as DBAs do, end to end through the real driver stack (pyodbc -> unixODBC -> FreeTDS -> TCP)
against the SQL Server emulator: encryption required and the certificate validated (system CAs, a CA file,
or trusted without validation), named instances through the SQL Server Browser, IPv6, and a login whose
default database is OFFLINE."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks import database_status
from precheck.models import CheckRequest, ItemStatus
from precheck.ports import SqlError
from precheck.runner import run_check
from precheck.sqltarget import SqlTarget, parse_server_name
from tests.fakes import FakeSecrets
from tests.fakes import instance as fake_instance
from tests.fakes import probes as fake_probes
from tests.helpers import Listener

pytestmark = pytest.mark.emulator

PASSWORD = "Emu-Pa55-word"
LOGIN = {"name": "backup", "password": PASSWORD, "sysadmin": True}


def catalog(**top) -> dict:
    return {"logins": [LOGIN], "databases": [{"name": "sales", "state": "ONLINE", "recovery_model": "FULL"}], **top}


def login(target: SqlTarget, connector: PyodbcConnector | None = None) -> list[dict]:
    session = (connector or PyodbcConnector()).connect(target, "backup", PASSWORD, 5)
    try:
        return session.query("SELECT DB_NAME() AS db")
    finally:
        session.close()


def test_a_login_whose_default_database_is_offline_still_connects(sqlserver_emulator):
    """DATABASE=master: the login's default database being OFFLINE does not stop the login (SQL Server
    answers 4064 to a login that asks for no database)."""
    emulator = sqlserver_emulator({"logins": [{**LOGIN, "default_database": "archive"}],
                                   "databases": [{"name": "archive", "state": "OFFLINE"}]})
    assert login(SqlTarget.at("127.0.0.1", emulator.port, encrypt="off")) == [{"db": "master"}]


def test_require_against_a_server_without_encryption_is_an_encryption_error_not_dns(sqlserver_emulator):
    """FreeTDS says only "Unable to connect" (08001); the connector asks the server and names the cause."""
    emulator = sqlserver_emulator(catalog())
    with pytest.raises(SqlError) as error:
        login(SqlTarget.at("127.0.0.1", emulator.port, encrypt="require", trust_server_certificate=True))
    assert error.value.kind == "encryption"
    assert "does not offer encryption" in error.value.message and PASSWORD not in error.value.message


@pytest.mark.parametrize("mode", ["on", "required"])
def test_require_connects_when_trusting_or_given_the_servers_certificate(sqlserver_emulator, mode):
    """Encrypted; validated against the certificate given as CA file, or trusted without validation."""
    emulator = sqlserver_emulator(catalog(encryption=mode))
    trusting = SqlTarget.at("127.0.0.1", emulator.port, encrypt="require", trust_server_certificate=True)
    validating = SqlTarget.at("127.0.0.1", emulator.port, encrypt="require", ca_file=str(emulator.certificate_path))
    assert login(trusting) == [{"db": "master"}]
    assert login(validating) == [{"db": "master"}]


def run_database_status(port: int, **settings) -> object:
    instance = fake_instance(server=f"127.0.0.1,{port}", **settings)
    request = CheckRequest(run_id="r1", instance=instance, item="database_status", deadline=time.time() + 60)
    probes = fake_probes(sql=PyodbcConnector(), secrets=FakeSecrets({"env:SQL_PASSWORD": PASSWORD}))
    return run_check(database_status.ITEM, request, probes)


def test_an_untrusted_certificate_is_refused_by_default_with_what_to_do(sqlserver_emulator):
    """The default (require, system CAs) refuses the emulator's self-signed certificate: ERROR naming the
    certificate, with the three fixes, never the password."""
    emulator = sqlserver_emulator(catalog(encryption="required"))
    outcome = run_database_status(emulator.port, encrypt="require")
    assert outcome.status is ItemStatus.ERROR and outcome.details["reason"] == "certificate"
    assert outcome.message.endswith("the server's certificate was not accepted: self-signed certificate (validated "
                                    "against the system's trusted CAs, for the name 127.0.0.1)")
    for fix in ("trusted", "--ca-file", "--trust-server-certificate"):
        assert fix in outcome.advice
    assert PASSWORD not in outcome.model_dump_json()


def test_a_certificate_from_another_ca_or_for_another_name_is_refused(sqlserver_emulator, tmp_path):
    """A CA file that did not sign the certificate, and a certificate issued for another host name, fail."""
    from tds_emulator.certificates import CertificateAuthority

    ca = CertificateAuthority.create(tmp_path / "ca")
    wrong_name = ca.issue(["db.example.test"], tmp_path / "wrong")
    emulator = sqlserver_emulator(catalog(encryption="required", certificate=wrong_name.as_catalog()))
    other = CertificateAuthority.create(tmp_path / "other")
    for ca_file, reason in ((other.cert_file, "certificate signature failure"),  # same CA name, other key
                            (ca.cert_file, "IP address mismatch, certificate is not valid for '127.0.0.1'")):
        with pytest.raises(SqlError) as error:
            login(SqlTarget.at("127.0.0.1", emulator.port, encrypt="require", ca_file=str(ca_file)))
        assert error.value.kind == "certificate"
        assert f"not accepted: {reason}" in error.value.message and str(ca_file) in error.value.message
    right = sqlserver_emulator(catalog(encryption="required",
                                       certificate=ca.issue(["127.0.0.1"], tmp_path / "right").as_catalog()))
    assert login(SqlTarget.at("127.0.0.1", right.port, encrypt="require", ca_file=str(ca.cert_file))) == [
        {"db": "master"}]


def test_a_named_instance_is_reached_through_the_sql_server_browser(sqlserver_emulator):
    """HOST\\INSTANCE: the port comes from the emulator's Browser (MC-SQLR over UDP)."""
    emulator = sqlserver_emulator(catalog(instance_name="SALES"), browser_port=0)
    connector = PyodbcConnector(browser_port=emulator.browser.port)
    assert login(SqlTarget(parse_server_name("127.0.0.1\\sales"), encrypt="off"), connector) == [{"db": "master"}]
    with pytest.raises(SqlError) as error:
        login(SqlTarget(parse_server_name("127.0.0.1\\FINANCE"), encrypt="off"), connector)
    assert (error.value.kind, error.value.message) == (
        "instance", "instance FINANCE not found on 127.0.0.1: its SQL Server Browser lists SALES")


def test_without_a_browser_a_named_instance_fails_saying_so(sqlserver_emulator):
    """Nothing answers on the Browser's port: an error naming the Browser, not the SQL login."""
    emulator = sqlserver_emulator(catalog(instance_name="SALES"))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        connector = PyodbcConnector(browser_port=silent.getsockname()[1])
        with pytest.raises(SqlError) as error:
            login(SqlTarget(parse_server_name("127.0.0.1\\SALES"), encrypt="off"), connector)
    finally:
        silent.close()
    assert error.value.kind == "browser"
    assert "SQL Server Browser on 127.0.0.1 did not answer" in error.value.message
    assert emulator.port  # the instance itself is up: only the Browser is missing


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_a_bracketed_ipv6_address_connects(sqlserver_emulator):
    emulator = sqlserver_emulator(catalog(), host="::1")
    assert login(SqlTarget(parse_server_name(f"[::1],{emulator.port}"), encrypt="off")) == [{"db": "master"}]


def check(args: list[str], tmp_path) -> tuple[int, dict, str]:
    env = {**os.environ, "PRECHECK_HOME": str(tmp_path), "SQL_PW": PASSWORD}
    env.pop("PRECHECK_STORE", None)
    oss = Listener()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "precheck.cli", "check", "--user", "backup", "--password-env", "SQL_PW",
             "--region", "cn-hangzhou", "--oss-endpoint", oss.endpoint, "--control-endpoint", oss.endpoint,
             "--timeout", "5", "--json", *args], env=env, capture_output=True, text=True, timeout=60)
    finally:
        oss.close()
    view = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, {item["item"]: item for item in view.get("items", [])}, result.stdout + result.stderr


def test_precheck_check_validates_by_default_and_takes_a_ca_file(sqlserver_emulator, tmp_path):
    """`precheck check` against a server requiring encryption: ERROR (certificate) by default, PASSED with
    --ca-file naming the server's certificate, and with --trust-server-certificate."""
    emulator = sqlserver_emulator(catalog(encryption="required"))
    server = ["--server", f"tcp:127.0.0.1,{emulator.port}"]
    code, items, output = check(server, tmp_path / "default")
    assert code == 1 and items["database_status"]["details"]["reason"] == "certificate", output
    assert "--ca-file" in items["database_status"]["advice"] and PASSWORD not in output
    code, items, output = check([*server, "--ca-file", str(emulator.certificate_path)], tmp_path / "ca")
    assert items["database_status"]["status"] == "PASSED", output
    code, items, output = check([*server, "--trust-server-certificate"], tmp_path / "trust")
    assert items["database_status"]["status"] == "PASSED", output


def _driver18() -> str | None:
    """Microsoft's ODBC Driver 18 as mssql-python bundles it (PyPI mssql-python-odbc), if installed."""
    try:
        import mssql_python_odbc
    except ImportError:
        return None
    found = sorted((Path(mssql_python_odbc.__file__).parent / "libs" / "linux" / "debian_ubuntu" / "x86_64" / "lib")
                   .glob("libmsodbcsql-18*.so*"))
    return str(found[-1]) if found else None


@pytest.mark.skipif(_driver18() is None, reason="Microsoft's ODBC Driver 18 (mssql-python-odbc) is not installed")
def test_microsofts_odbc_driver_18_takes_its_own_keywords(sqlserver_emulator):
    """The same targets through Driver 18 (PRECHECK_ODBC_DRIVER set to it): SERVER=tcp:host,port,
    Encrypt/TrustServerCertificate, `}` escaped in braces; validation by default; off connects to a server that
    forces encryption without validating (as Driver 17's Encrypt=no); a named instance through the Browser."""
    emulator = sqlserver_emulator({"logins": [{**LOGIN, "password": "p}w;", "default_database": "gone"}],
                                   "databases": [{"name": "gone", "state": "OFFLINE"}], "encryption": "required",
                                   "instance_name": "SALES"}, browser_port=0)
    connector = PyodbcConnector(_driver18(), browser_port=emulator.browser.port)

    def connect(server: str, **tls) -> list[dict]:
        session = connector.connect(SqlTarget(parse_server_name(server), **tls), "backup", "p}w;", 5)
        try:
            return session.query("SELECT DB_NAME() AS db")
        finally:
            session.close()

    assert connect(f"127.0.0.1,{emulator.port}", trust_server_certificate=True) == [{"db": "master"}]
    assert connect("127.0.0.1\\SALES", encrypt="off") == [{"db": "master"}]
    with pytest.raises(SqlError) as error:
        connect(f"tcp:127.0.0.1,{emulator.port}")
    assert error.value.kind == "certificate" and "certificate verify failed" in error.value.message
    assert "p}w;" not in error.value.message


def test_precheck_check_reaches_a_named_instance_through_the_browser_on_udp_1434(sqlserver_named_instance,
                                                                                  tmp_path):
    """`precheck check --server HOST\\INSTANCE` as a DBA types it: the product asks the Browser on UDP 1434 of
    HOST, then logs in encrypted, validating the certificate against --ca-file."""
    emulator = sqlserver_named_instance(catalog(encryption="required", instance_name="SALES"))
    code, items, output = check(["--server", f"{emulator.host}\\SALES", "--ca-file", str(emulator.certificate_path)],
                                tmp_path)
    assert items["database_status"]["status"] == "PASSED", output
    code, items, output = check(["--server", f"{emulator.host}\\FINANCE", "--encrypt", "off"], tmp_path / "unknown")
    assert items["database_status"]["details"]["reason"] == "instance", output
    assert f"instance FINANCE not found on {emulator.host}" in items["database_status"]["message"]
