"""The TDS emulator's TLS, driven through real clients: FreeTDS (pyodbc and tsql, GnuTLS), python-tds
(pyOpenSSL) and Microsoft's mssql-python (ODBC Driver 18, OpenSSL).

A recording TCP relay between client and emulator shows what travels in clear: with "off" only LOGIN7 is
encrypted (the query text is readable, the login is not); with "on"/"required"/"strict" nothing is.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pyodbc
import pytds
import pytest

from tds_emulator import CatalogError, Faults, SqlServerEmulator
from tds_emulator.catalog import Catalog
from tds_emulator.certificates import CertificateAuthority
from tds_emulator.tls import (
    ALL,
    ENCRYPT_NOT_SUP,
    ENCRYPT_OFF,
    ENCRYPT_ON,
    ENCRYPT_REQ,
    LOGIN_ONLY,
    NONE,
    REFUSE,
    negotiate,
)

pytestmark = pytest.mark.emulator

USER, PASSWORD = "tlsuser", "Pa55;word"
MARKER = "visible-marker-7f3a"
QUERY = f"SELECT '{MARKER}' AS marker"


def catalog(encryption: str, **extra) -> dict:
    return {"logins": [{"name": USER, "password": PASSWORD, "sysadmin": True}], "encryption": encryption, **extra}


class Relay:
    """A TCP relay to ``target`` recording the bytes each way; every socket polls with a 0.1 s timeout."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.upstream, self.downstream = bytearray(), bytearray()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(self.target, timeout=5)
            for sock in (client, server):
                sock.settimeout(0.1)
            for source, sink, record in ((client, server, self.upstream), (server, client, self.downstream)):
                thread = threading.Thread(target=self._pump, args=(source, sink, record), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        while not self._stop.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                for sock in (sink, source):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            record += data
            try:
                sink.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def saw(self, text: str) -> bool:
        """Whether ``text`` travelled in clear (as TDS sends it: UTF-16LE) either way."""
        encoded = text.encode("utf-16-le")
        return encoded in self.upstream or encoded in self.downstream


@pytest.fixture
def relay():
    relays: list[Relay] = []

    def start(emulator: SqlServerEmulator) -> Relay:
        relays.append(Relay((emulator.host, emulator.port)))
        return relays[-1]

    yield start
    for item in relays:
        item.close()


def odbc(port: int, extra: str = "") -> str:
    return (f"DRIVER={{FreeTDS}};SERVER=127.0.0.1;PORT={port};UID={USER};PWD={{{PASSWORD}}};TDS_Version=7.4;"
            f"ClientCharset=UTF-8;{extra}")


def odbc_query(connection_string: str) -> str:
    with pyodbc.connect(connection_string, timeout=5, autocommit=True) as cnxn:
        return cnxn.execute(QUERY).fetchval()


def pytds_query(port: int, **kwargs) -> str:
    with pytds.connect(dsn="127.0.0.1", port=port, user=USER, password=PASSWORD, login_timeout=5, timeout=5,
                       autocommit=True, **kwargs) as cnxn:
        with cnxn.cursor() as cursor:
            cursor.execute(QUERY)
            return cursor.fetchone()[0]


def freetds_conf(tmp_path: Path, emulator: SqlServerEmulator, **settings: str) -> Path:
    lines = [f"\thost = {emulator.host}", f"\tport = {emulator.port}", "\ttds version = 7.4"]
    lines += [f"\t{key.replace('_', ' ')} = {value}" for key, value in settings.items()]
    path = tmp_path / "freetds.conf"
    path.write_text("[emu]\n" + "\n".join(lines) + "\n")
    return path


def tsql(conf: Path, dump: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FREETDSCONF": str(conf)}
    if dump is not None:
        env["TDSDUMP"] = str(dump)
    return subprocess.run(["tsql", "-S", "emu", "-U", USER, "-P", PASSWORD], input=f"{QUERY}\ngo\nexit\n",
                          capture_output=True, text=True, timeout=30, env=env)


MSSQL_CHILD = """
import sys, mssql_python
try:
    with mssql_python.connect(sys.argv[1], timeout=5) as cnxn:
        cursor = cnxn.cursor()
        cursor.execute(sys.argv[2])
        print("OK", cursor.fetchone()[0])
except Exception as exc:
    print("FAIL", exc)
"""


def mssql(port: int, extra: str, ca_file: Path | None = None) -> str:
    """Connect with Microsoft's driver in a child process (OpenSSL reads SSL_CERT_FILE, the CA to trust)."""
    pytest.importorskip("mssql_python")
    env = dict(os.environ)
    if ca_file is not None:
        env["SSL_CERT_FILE"] = str(ca_file)
    connection_string = f"Server=127.0.0.1,{port};UID={USER};PWD={{{PASSWORD}}};{extra}"
    out = subprocess.run([sys.executable, "-c", MSSQL_CHILD, connection_string, QUERY], capture_output=True,
                         text=True, timeout=60, env=env)
    return out.stdout.strip() or out.stderr.strip()


# ---- the catalog and the negotiation table --------------------------------------------------------------------
def test_catalog_validates_encryption_certificate_and_instance_name():
    """Unknown modes, malformed certificate entries and impossible instance names are CatalogErrors."""
    assert Catalog.from_dict({}).encryption == "not_supported"
    for bad in ({"encryption": "yes"}, {"certificate": {"cert_file": "a.pem"}}, {"certificate": "a.pem"},
                {"instance_name": "A\\B"}, {"instance_name": "X" * 17}, {"instance_name": ""}):
        with pytest.raises(CatalogError):
            Catalog.from_dict(bad)


@pytest.mark.parametrize("mode, client, expected", [
    ("not_supported", ENCRYPT_ON, (ENCRYPT_NOT_SUP, NONE)),
    ("off", ENCRYPT_OFF, (ENCRYPT_OFF, LOGIN_ONLY)),
    ("off", ENCRYPT_ON, (ENCRYPT_ON, ALL)),
    ("off", ENCRYPT_REQ, (ENCRYPT_ON, ALL)),
    ("off", ENCRYPT_NOT_SUP, (ENCRYPT_NOT_SUP, NONE)),
    ("on", ENCRYPT_OFF, (ENCRYPT_ON, ALL)),
    ("on", ENCRYPT_NOT_SUP, (ENCRYPT_REQ, REFUSE)),
    ("required", ENCRYPT_OFF, (ENCRYPT_REQ, ALL)),
    ("required", ENCRYPT_NOT_SUP, (ENCRYPT_REQ, REFUSE)),
    ("required", None, (ENCRYPT_REQ, REFUSE)),
])
def test_negotiation_follows_ms_tds(mode, client, expected):
    """The PRELOGIN ENCRYPTION answer and its consequence follow MS-TDS 2.2.6.5's table."""
    assert negotiate(mode, None if client is None else bytes([client])) == expected


# ---- FreeTDS ----------------------------------------------------------------------------------------------------
def test_freetds_login_only_encryption_when_both_sides_say_off(sqlserver_emulator, relay):
    """FreeTDS's default (request = ENCRYPT_OFF) with an "off" server: LOGIN7 travels in TLS, the rest in clear."""
    tap = relay(sqlserver_emulator(catalog("off")))
    assert odbc_query(odbc(tap.port)) == MARKER
    assert tap.saw(MARKER) and not tap.saw(USER)


@pytest.mark.parametrize("mode", ["on", "required"])
def test_freetds_encrypts_the_whole_session(sqlserver_emulator, relay, mode):
    """With "on" or "required" the login and every query travel in TLS; results come back intact."""
    tap = relay(sqlserver_emulator(catalog(mode)))
    assert odbc_query(odbc(tap.port, "Encryption=require;")) == MARKER
    assert odbc_query(odbc(tap.port)) == MARKER
    assert not tap.saw(MARKER) and not tap.saw(USER)


def test_a_server_requiring_encryption_refuses_a_client_that_will_not(sqlserver_emulator):
    """FreeTDS with Encryption=off (it sends ENCRYPT_NOT_SUP) and pytds without a CA file are refused."""
    emulator = sqlserver_emulator(catalog("required"))
    with pytest.raises(pyodbc.OperationalError):
        odbc_query(odbc(emulator.port, "Encryption=off;"))
    with pytest.raises(pytds.Error, match="required by server"):
        pytds_query(emulator.port)


def test_a_server_without_tls_is_refused_by_clients_that_require_it(sqlserver_emulator, tmp_path):
    """The default (not_supported) answers ENCRYPT_NOT_SUP: clients that require encryption give up, the
    others go on in clear as before."""
    emulator = sqlserver_emulator(catalog("not_supported"))
    with pytest.raises(pyodbc.OperationalError):
        odbc_query(odbc(emulator.port, "Encryption=require;"))
    ca = CertificateAuthority.create(tmp_path)
    with pytest.raises(pytds.Error, match="not supported by server"):
        pytds_query(emulator.port, cafile=str(ca.cert_file))
    assert odbc_query(odbc(emulator.port)) == MARKER


def test_tsql_validates_the_certificate_with_a_ca_file(sqlserver_emulator, tmp_path):
    """With `ca file` FreeTDS checks the chain and the host name: the right CA passes, another CA or a
    certificate for another host is refused (TDSDUMP names the reason)."""
    ca = CertificateAuthority.create(tmp_path / "ca")
    stranger = CertificateAuthority.create(tmp_path / "stranger")
    good = ca.issue(["127.0.0.1", "localhost"], tmp_path / "good")
    wrong_host = ca.issue(["db.example.test"], tmp_path / "wrong")
    emulator = sqlserver_emulator(catalog("required", certificate=good.as_catalog()))
    done = tsql(freetds_conf(tmp_path, emulator, encryption="require", ca_file=str(ca.cert_file)))
    assert MARKER in done.stdout, done.stdout + done.stderr
    dump = tmp_path / "untrusted.log"
    refused = tsql(freetds_conf(tmp_path, emulator, encryption="require", ca_file=str(stranger.cert_file)), dump)
    assert MARKER not in refused.stdout and "Certificate status" in dump.read_text()
    other = sqlserver_emulator(catalog("required", certificate=wrong_host.as_catalog()))
    dump = tmp_path / "mismatch.log"
    refused = tsql(freetds_conf(tmp_path, other, encryption="require", ca_file=str(ca.cert_file)), dump)
    assert MARKER not in refused.stdout and "Certificate hostname does not match" in dump.read_text()


def test_pyodbc_freetds_with_a_freetds_conf_ca_file(sqlserver_emulator, tmp_path, monkeypatch):
    """pyodbc reaches a FREETDSCONF entry by SERVERNAME: its emulator certificate validates; another CA's
    does not."""
    emulator = sqlserver_emulator(catalog("on"))
    conf = freetds_conf(tmp_path, emulator, encryption="require", ca_file=str(emulator.certificate_path))
    monkeypatch.setenv("FREETDSCONF", str(conf))
    cs = f"DRIVER={{FreeTDS}};SERVERNAME=emu;UID={USER};PWD={{{PASSWORD}}};ClientCharset=UTF-8"
    assert odbc_query(cs) == MARKER
    stranger = CertificateAuthority.create(tmp_path / "stranger")
    freetds_conf(tmp_path, emulator, encryption="require", ca_file=str(stranger.cert_file))
    with pytest.raises(pyodbc.OperationalError):
        odbc_query(cs)


# ---- python-tds -------------------------------------------------------------------------------------------------
def test_pytds_full_and_login_only_encryption(sqlserver_emulator, relay):
    """pytds with cafile= encrypts everything against "on"; enc_login_only=True against "off" only the login."""
    emulator = sqlserver_emulator(catalog("on"))
    tap = relay(emulator)
    assert pytds_query(tap.port, cafile=str(emulator.certificate_path)) == MARKER
    assert not tap.saw(MARKER) and not tap.saw(USER)
    emulator = sqlserver_emulator(catalog("off"))
    tap = relay(emulator)
    assert pytds_query(tap.port, cafile=str(emulator.certificate_path), enc_login_only=True) == MARKER
    assert tap.saw(MARKER) and not tap.saw(USER)


def test_pytds_refuses_an_untrusted_or_misnamed_certificate(sqlserver_emulator, tmp_path):
    """pytds validates the chain against cafile and, with validate_host (its default), the host name. (pytds
    1.17 compares the CN, then reads subjectAltName with an X509 method pyOpenSSL 24.3 removed: a mismatch
    still refuses the connection, with AttributeError instead of its own message.)"""
    ca = CertificateAuthority.create(tmp_path / "ca")
    stranger = CertificateAuthority.create(tmp_path / "stranger")
    emulator = sqlserver_emulator(catalog("required", certificate=ca.issue(["127.0.0.1"], tmp_path).as_catalog()))
    assert pytds_query(emulator.port, cafile=str(ca.cert_file)) == MARKER
    with pytest.raises(Exception, match="certificate verify failed"):
        pytds_query(emulator.port, cafile=str(stranger.cert_file))
    misnamed = sqlserver_emulator(catalog("required",
                                          certificate=ca.issue(["db.example.test"], tmp_path / "w").as_catalog()))
    with pytest.raises((pytds.Error, AttributeError)):
        pytds_query(misnamed.port, cafile=str(ca.cert_file))
    assert pytds_query(misnamed.port, cafile=str(ca.cert_file), validate_host=False) == MARKER


# ---- Microsoft's driver (mssql-python, ODBC Driver 18) ---------------------------------------------------------
def test_mssql_python_encrypts_and_validates(sqlserver_emulator, tmp_path):
    """Encrypt=yes validates the certificate: the emulator's self-signed one fails unless trusted
    (TrustServerCertificate=yes, or its CA in SSL_CERT_FILE); a certificate for another host fails the
    host-name check even from a trusted CA."""
    emulator = sqlserver_emulator(catalog("on"))
    assert mssql(emulator.port, "Encrypt=yes;TrustServerCertificate=yes;") == f"OK {MARKER}"
    untrusted = mssql(emulator.port, "Encrypt=yes;")
    assert untrusted.startswith("FAIL") and "certificate verify failed" in untrusted
    assert mssql(emulator.port, "Encrypt=yes;", ca_file=emulator.certificate_path) == f"OK {MARKER}"
    ca = CertificateAuthority.create(tmp_path)
    misnamed = sqlserver_emulator(catalog("on", certificate=ca.issue(["db.example.test"], tmp_path).as_catalog()))
    mismatch = mssql(misnamed.port, "Encrypt=yes;", ca_file=ca.cert_file)
    assert mismatch.startswith("FAIL") and "does not match host name" in mismatch
    assert mssql(misnamed.port, "Encrypt=yes;HostNameInCertificate=db.example.test;",
                 ca_file=ca.cert_file) == f"OK {MARKER}"


def test_mssql_python_login_only_and_no_encryption(sqlserver_emulator, relay):
    """Encrypt=no against "off": only the login is encrypted. Against a server without TLS, Encrypt=yes
    fails with the driver's own message and Encrypt=no works in clear."""
    emulator = sqlserver_emulator(catalog("off"))
    tap = relay(emulator)
    assert mssql(tap.port, "Encrypt=no;") == f"OK {MARKER}"
    assert tap.saw(MARKER) and not tap.saw(USER)
    plain = sqlserver_emulator(catalog("not_supported"))
    assert "Encryption not supported" in mssql(plain.port, "Encrypt=yes;TrustServerCertificate=yes;")
    assert mssql(plain.port, "Encrypt=no;") == f"OK {MARKER}"


def test_tds8_strict_tls_comes_first(sqlserver_emulator, relay):
    """"strict": Encrypt=strict (TDS 8.0) opens with a TLS ClientHello and validates the certificate;
    a TDS 7.x client (FreeTDS) that starts with PRELOGIN is closed."""
    emulator = sqlserver_emulator(catalog("strict"))
    tap = relay(emulator)
    assert mssql(tap.port, "Encrypt=strict;", ca_file=emulator.certificate_path) == f"OK {MARKER}"
    assert tap.upstream[:1] == b"\x16" and not tap.saw(MARKER) and not tap.saw(USER)
    assert mssql(emulator.port, "Encrypt=strict;").startswith("FAIL")
    with pytest.raises(pyodbc.OperationalError):
        odbc_query(odbc(emulator.port))


# ---- robustness ---------------------------------------------------------------------------------------------
def test_large_results_and_cancel_inside_tls(sqlserver_emulator):
    """Thousands of rows stream through TLS records; a query timeout's ATTENTION is read through TLS and
    answered, and the encrypted connection stays usable."""
    databases = [{"name": f"db{i:05d}_" + "x" * 100} for i in range(3000)]
    emulator = sqlserver_emulator(catalog("required", databases=databases))
    with pyodbc.connect(odbc(emulator.port, "Encryption=require;"), timeout=5, autocommit=True) as cnxn:
        assert len(cnxn.execute("SELECT name FROM sys.databases").fetchall()) == 3004
        emulator.faults = Faults(query_delay_ms=5000)
        cnxn.timeout = 1
        with pytest.raises(pyodbc.OperationalError) as raised:
            cnxn.execute(QUERY).fetchall()
        assert raised.value.args[0] == "HYT00"
        emulator.faults = Faults()
        assert cnxn.execute(QUERY).fetchval() == MARKER


def test_a_broken_handshake_closes_the_connection(sqlserver_emulator):
    """Bytes that are not TLS where the handshake should be end the connection (a TLS alert, then close)."""
    emulator = sqlserver_emulator(catalog("on"))
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as client:
        client.sendall(prelogin(ENCRYPT_ON))
        client.recv(4096)
        garbage = b"\x16\x03\x01\x00\x05hello"
        client.sendall(struct.pack(">BBHHBB", 0x12, 0x01, 8 + len(garbage), 0, 1, 0) + garbage)
        received = b""
        while chunk := client.recv(4096):
            received += chunk
        assert received == b"" or received[0] == 0x12  # nothing, or the alert inside a PRELOGIN packet


def prelogin(encryption: int) -> bytes:
    options = [(0, bytes(6)), (1, bytes([encryption]))]
    head, data, offset = bytearray(), bytearray(), len(options) * 5 + 1
    for token, value in options:
        head += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    payload = bytes(head) + b"\xff" + bytes(data)
    return struct.pack(">BBHHBB", 0x12, 0x01, 8 + len(payload), 0, 1, 0) + payload


def test_a_half_done_handshake_is_dropped_at_the_login_timeout(sqlserver_emulator):
    """A client that asks for TLS and then goes silent is disconnected after login_timeout."""
    emulator = sqlserver_emulator(catalog("on"), login_timeout=0.3)
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as client:
        client.sendall(prelogin(ENCRYPT_ON))
        answer = client.recv(4096)
        assert answer[0] == 0x04 and ENCRYPT_ON in answer[8:]
        client.sendall(struct.pack(">BBHHBB", 0x12, 0x01, 8 + 5, 0, 1, 0) + b"\x16\x03\x01\x02\x00")
        assert client.recv(4096) == b""


def test_refusal_sends_the_answer_then_closes(sqlserver_emulator):
    """"required" answers ENCRYPT_REQ to a client that cannot encrypt, then closes the connection."""
    emulator = sqlserver_emulator(catalog("required"))
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as client:
        client.sendall(prelogin(ENCRYPT_NOT_SUP))
        answer = client.recv(4096)
        offset, length = struct.unpack_from(">HH", answer, 8 + 5 + 1)
        assert answer[8 + 5] == 1 and length == 1 and answer[8 + offset] == ENCRYPT_REQ
        assert client.recv(4096) == b""
