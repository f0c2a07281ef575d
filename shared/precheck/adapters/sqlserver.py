"""SQL Server through pyodbc and an ODBC driver (FreeTDS by default): bounded waits, clear causes, no secrets.

`pyodbc.connect(..., timeout=N)` sets the ODBC login timeout (SQL_ATTR_LOGIN_TIMEOUT) and
`connection.timeout` the query timeout (SQL_ATTR_QUERY_TIMEOUT), both in whole seconds (pyodbc's wiki,
"Connection" and "The pyodbc Module"). Before the driver is called, the connector resolves the host itself
within the time limit (getaddrinfo has none; a driver's "unable to connect" is then never mistaken for a
DNS failure) and, for `host\\INSTANCE`, asks the SQL Server Browser for the port (adapters/sqlbrowser.py).
The connection string is built per driver family (adapters/odbc.py); for FreeTDS with certificate
validation, its freetds.conf section is written first (adapters/freetds_conf.py).

Errors become `SqlError` kinds (precheck.ports): dns, timeout, refused, unreachable, browser, instance,
encryption (the server offers no encryption and the target requires it), certificate (TLS or certificate
validation failed), login (18456), database (4060, 4064), dropped, query, config.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyodbc

from ..ports import ProbeError, SqlError
from ..sqltarget import BROWSER_PORT, SqlTarget
from . import freetds_conf, network
from .odbc import FREETDS, connection_string, family

DEFAULT_DRIVER = "FreeTDS"
#: a native error number in a driver's message, "(18456)": a pattern text, compiled (and cached by `re`) when an
#: error is classified, which a working check never needs (cold start)
_NATIVE = r"\((\d+)\)"
_LOGIN_FAILED = 18456
_DATABASE_FAILED = {4060: "the login cannot open database master", 4064: "the login cannot open its default database"}
#: FreeTDS's own numbers for a connection lost while talking: unexpected EOF, read failed, write failed
_CONNECTION_LOST = {20017, 20004, 20006}
#: FreeTDS: TCP connect failed (TDSECONN); connected, then the login handshake failed (TDSEFCON)
_TCP_FAILED, _HANDSHAKE_FAILED = 20009, 20002


def classify(error: Exception, user: str, password: str) -> SqlError:
    """Turn a pyodbc error into a SqlError whose message names the cause and never the password.

    A FreeTDS "Unable to connect" comes after the connector resolved the host, so it is not a DNS failure:
    it is the TCP connection (20009) or the handshake after it (20002; the connector then asks the server
    itself, `explain_handshake`)."""
    state = error.args[0] if error.args else ""
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    natives = {int(number) for number in re.findall(_NATIVE, text)}
    lowered = text.lower()
    for number, reason in _DATABASE_FAILED.items():  # SQL Server follows 4060/4064 with 18456
        if number in natives:
            return SqlError("database", f"{reason} (SQL Server error {number})")
    if _LOGIN_FAILED in natives:
        return SqlError("login", f"login failed for user '{user}'")
    if state == "HYT00" or "timeout expired" in lowered:
        return SqlError("timeout", "the server did not answer within the time limit")
    if "certificate" in lowered:  # Microsoft's drivers name it ("certificate verify failed")
        return SqlError("certificate", f"the server's certificate was not accepted: {_clean(text, password)}")
    if _TCP_FAILED in natives:
        return SqlError("refused", "the TCP connection failed (connection refused or no route to the port)")
    if _HANDSHAKE_FAILED in natives or state == "08001":
        # FreeTDS 1.3 reports a failed TLS handshake or encryption mismatch as 08001 "Unable to connect to
        # data source" with no number: the connector finds out which (`diagnose`)
        return SqlError("handshake", f"the driver could not connect: {_clean(text, password)}")
    if (_CONNECTION_LOST & natives or state in ("08S01", "08S02") or "communication link failure" in lowered
            or "closed" in lowered):
        return SqlError("dropped", f"the connection was closed while reading: {_clean(text, password)}")
    return SqlError("query", f"SQL Server error: {_clean(text, password)}")


def _clean(text: str, password: str) -> str:
    text = re.sub(r"^(\[[^\]]*\])+\s*", "", text)
    if password:
        text = text.replace(password, "***")
    return text[:300]


def explain_handshake(target: SqlTarget, address: tuple, family_: int, port: int, timeout: float) -> SqlError:
    """Why a login handshake failed, from what the server answers to a PRELOGIN of our own."""
    from . import prelogin  # only a failed handshake needs it (cold start: a login that works never does)

    answer = prelogin.server_encryption((address[0], port, *address[2:]), family_, timeout)
    if answer == prelogin.ENCRYPT_NOT_SUP and target.encrypt in ("require", "strict"):
        return SqlError("encryption", f"encrypt is {target.encrypt}, but the server does not offer encryption "
                                      "(its PRELOGIN answer says encryption is not supported)")
    if answer in (prelogin.ENCRYPT_OFF, prelogin.ENCRYPT_ON, prelogin.ENCRYPT_REQ):
        if target.encrypt == "off":
            said = {prelogin.ENCRYPT_OFF: "login only", prelogin.ENCRYPT_ON: "on", prelogin.ENCRYPT_REQ: "required"}
            return SqlError("encryption", f"encrypt is off, but the server encrypts (its PRELOGIN answer: "
                                          f"{said[answer]}) and closed the connection of a client without "
                                          "encryption")
        trusted = f"the CA in {target.ca_file}" if target.ca_file else "the system's trusted CAs"
        if target.encrypt == "strict":
            return SqlError("tls", "encrypt is strict (TDS 8.0) and the TLS handshake failed: the server may not "
                                   "speak TDS 8.0 (SQL Server 2022 or later; it answered a TDS 7 PRELOGIN), or its "
                                   f"certificate does not validate against {trusted} or name {target.server.host}")
        if target.validates_certificate:
            where = (address[0], port, *address[2:])
            problem = prelogin.certificate_problem(where, family_, target.server.host, target.ca_file, timeout)
            if problem:
                return SqlError("certificate", f"the server's certificate was not accepted: {problem} (validated "
                                               f"against {trusted}, for the name {target.server.host})")
            return SqlError("certificate", f"the TLS handshake failed: the server's certificate does not validate "
                                           f"against {trusted} or does not name {target.server.host}")
        return SqlError("tls", "the TLS handshake with the server failed")
    if answer is None:
        return SqlError("dropped", "the server closed the connection during the login handshake")
    return SqlError("handshake", "the server accepted the TCP connection, then the login handshake failed")


class PyodbcSession:
    def __init__(self, connection: pyodbc.Connection, user: str, password: str):
        self._connection = connection
        self._user, self._password = user, password

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cursor = self._connection.cursor()
            cursor.execute(sql, *params) if params else cursor.execute(sql)
            columns = [column[0] for column in cursor.description or ()]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
        except pyodbc.Error as error:
            raise classify(error, self._user, self._password) from None

    def close(self) -> None:
        try:
            self._connection.close()
        except pyodbc.Error:
            pass


class PyodbcConnector:
    """Opens a read-only autocommit session; resolution, the Browser, login and every query bounded by the
    item's time. `browser_port` is the SQL Server Browser's UDP port (1434; tests point it elsewhere)."""

    def __init__(self, driver: str | None = None, *, browser_port: int = BROWSER_PORT,
                 freetds_base: Path | None = None):
        self._driver = driver or DEFAULT_DRIVER
        self._browser_port = browser_port
        # made before this process's first FreeTDS connection (adapters/freetds_conf.py says why)
        self._conf = freetds_conf.shared(freetds_base) if family(self._driver) == FREETDS else None

    def connect(self, target: SqlTarget, user: str, password: str, timeout: float) -> PyodbcSession:
        deadline = time.monotonic() + max(timeout, 0.0)
        server = target.server
        try:
            family_, _, _, _, address = network.resolve(server.host, server.tcp_port, timeout)[0]
        except ProbeError as error:
            if error.kind == "timeout":
                raise SqlError("timeout", f"resolving {server.host} took longer than {timeout:.1f} s") from None
            raise SqlError("dns", f"the server name {server.host} does not resolve ({error.message})") from None
        port = server.tcp_port
        if server.needs_browser:
            from . import sqlbrowser  # only a named instance asks the Browser (cold start)

            port = sqlbrowser.instance_port(server.host, address, family_, str(server.instance),
                                            deadline - time.monotonic(), self._browser_port)
        if target.ca_file and not os.path.isfile(target.ca_file):
            raise SqlError("config", f"the CA file {target.ca_file} does not exist where the checks run")
        request = connection_string(target, port, user, password, self._driver)
        if request.section is not None and self._conf is not None:
            self._conf.ensure(*request.section)
        seconds = max(1, int(deadline - time.monotonic()))  # ODBC timeouts are whole seconds
        try:
            connection = pyodbc.connect(request.text, timeout=seconds, autocommit=True)
            connection.timeout = seconds
        except pyodbc.Error as error:
            failure = classify(error, user, password)
            if failure.kind in ("handshake", "refused"):
                remaining = max(0.5, deadline - time.monotonic())
                failure = (_tcp_failure(address, family_, port, remaining)
                           or explain_handshake(target, address, family_, port, remaining))
            raise failure from None
        return PyodbcSession(connection, user, password)


def _tcp_failure(address: tuple, family_: int, port: int, timeout: float) -> SqlError | None:
    """Which way a TCP connection to the port fails (refused, unreachable, timed out), tried once more."""
    try:
        with socket.socket(family_, socket.SOCK_STREAM) as sock:
            sock.settimeout(max(timeout, 0.2))
            sock.connect((address[0], port, *address[2:]))
    except ConnectionRefusedError:
        return SqlError("refused", "connection refused")
    except TimeoutError:
        return SqlError("timeout", f"no answer from port {port} within the time limit (filtered by a firewall?)")
    except OSError as error:
        if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return SqlError("unreachable", f"no route to the server ({error.strerror})")
        return SqlError("refused", f"cannot connect to port {port}: {error.strerror or type(error).__name__}")
    return None
