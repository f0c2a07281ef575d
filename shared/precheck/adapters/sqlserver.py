"""SQL Server through pyodbc and the FreeTDS ODBC driver: bounded waits, pinned TDS version, no secrets out.

`pyodbc.connect(..., timeout=N)` sets the ODBC login timeout (SQL_ATTR_LOGIN_TIMEOUT) and
`connection.timeout` the query timeout (SQL_ATTR_QUERY_TIMEOUT), both in whole seconds (pyodbc's wiki,
"Connection" and "The pyodbc Module"); `TDS_Version=7.4` pins the protocol, so FreeTDS does not fall back
through older versions against a server that accepts and never answers. Without them such a server holds
the check for minutes (tests/test_sql_emulated.py shows the bound against the emulator's silent mode).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyodbc

from ..models import Endpoint
from ..ports import SqlError

DEFAULT_DRIVER = "FreeTDS"
_NATIVE = re.compile(r"\((\d+)\)")
_LOGIN_FAILED = 18456
#: FreeTDS's own numbers for a connection lost while talking: unexpected EOF, read failed, write failed
_CONNECTION_LOST = {20017, 20004, 20006}


def _braced(value: str, what: str) -> str:
    """An ODBC connection-string value in braces.

    FreeTDS ends a braced value at the first `};` and does not undo ODBC's `}}` escape (a doubled brace
    reaches the server doubled), so values go in raw, each followed by `;`; the one sequence a braced value
    cannot hold is `};`, which would end it and let the rest add attributes. Such a value is refused.
    """
    if "};" in value or "\x00" in value:
        raise SqlError("config", f"the {what} contains '}};' or a NUL character, which the FreeTDS ODBC driver cannot "
                                 "take in a connection string")
    return "{" + value + "}"


def connection_string(endpoint: Endpoint, user: str, password: str, driver: str | None = None) -> str:
    driver = driver or DEFAULT_DRIVER
    return ";".join([
        f"DRIVER={_braced(driver, 'driver name')}",
        f"SERVER={_braced(endpoint.host, 'server name')}",
        f"PORT={endpoint.port}",
        f"UID={_braced(user, 'login name')}",
        "TDS_Version=7.4",
        "ClientCharset=UTF-8",
        f"PWD={_braced(password, 'password')}",
    ]) + ";"  # FreeTDS needs the `};` to close the last braced value


def classify(error: Exception, endpoint: Endpoint, user: str, password: str) -> SqlError:
    """Turn a pyodbc error into a SqlError whose message names the cause and never the password."""
    state = error.args[0] if error.args else ""
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    natives = [int(number) for number in _NATIVE.findall(text)]
    if _LOGIN_FAILED in natives:
        return SqlError("login", f"login failed for user '{user}'")
    if state == "HYT00" or "Timeout expired" in text:
        return SqlError("timeout", "the server did not answer within the time limit")
    if state == "08001":
        return SqlError("dns", "the server name does not resolve or the host is unreachable")
    if state == "08S01" and "Unable to connect" in text:
        return SqlError("refused", "connection refused")
    if (_CONNECTION_LOST & set(natives) or state in ("08S01", "08S02") or "Communication link failure" in text
            or "closed" in text.lower()):
        return SqlError("dropped", f"the connection was closed while reading: {_clean(text, password)}")
    return SqlError("query", f"SQL Server error: {_clean(text, password)}")


def _clean(text: str, password: str) -> str:
    text = re.sub(r"^(\[[^\]]*\])+\s*", "", text)
    if password:
        text = text.replace(password, "***")
    return text[:300]


class PyodbcSession:
    def __init__(self, connection: pyodbc.Connection, endpoint: Endpoint, user: str, password: str):
        self._connection = connection
        self._endpoint, self._user, self._password = endpoint, user, password

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cursor = self._connection.cursor()
            cursor.execute(sql, *params) if params else cursor.execute(sql)
            columns = [column[0] for column in cursor.description or ()]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
        except pyodbc.Error as error:
            raise classify(error, self._endpoint, self._user, self._password) from None

    def close(self) -> None:
        try:
            self._connection.close()
        except pyodbc.Error:
            pass


class PyodbcConnector:
    """Opens a read-only autocommit session; login and every query bounded by the item's time."""

    def __init__(self, driver: str | None = None):
        self._driver = driver

    def connect(self, endpoint: Endpoint, user: str, password: str, timeout: float) -> PyodbcSession:
        seconds = max(1, int(timeout))  # ODBC timeouts are whole seconds
        text = connection_string(endpoint, user, password, self._driver)
        try:
            connection = pyodbc.connect(text, timeout=seconds, autocommit=True)
            connection.timeout = seconds
        except pyodbc.Error as error:
            raise classify(error, endpoint, user, password) from None
        return PyodbcSession(connection, endpoint, user, password)
