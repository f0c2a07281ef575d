"""The `SqlConnector` / `SqlSession` contract (precheck.ports): one suite, run on the fake the check tests use
(`tests.fakes.FakeSql`) and on the real `PyodbcConnector` (pyodbc, unixODBC, FreeTDS) against the TDS
emulator.

Both are given the same instance, described once as a catalog in the emulator's format, and asserted the
same way: the two queries the checks run (`DATABASES_SQL`, `VISIBILITY_SQL`) answer the same rows, with the
same keys and value types; a wrong password is SqlError kind `login` naming the user and never the password;
a closed port is SqlError kind `refused`; `close()` can be called (twice), after which the session answers
no more queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks._sql import DATABASES_SQL, VISIBILITY_SQL
from precheck.models import Endpoint
from precheck.ports import SqlConnector, SqlError
from tests.fakes import FakeSql
from tests.helpers import closed_port

PASSWORD = "Contract-Pa55"
DATABASES = [
    {"name": "sales", "state": "ONLINE", "recovery_model": "FULL"},
    {"name": "reporting", "recovery_model": "SIMPLE"},
    {"name": "archive", "state": "OFFLINE", "recovery_model": "SIMPLE", "owner": "auditor"},
    {"name": "销售数据 O'Brien]; --", "state": "RECOVERY_PENDING", "recovery_model": "BULK_LOGGED"},
]
CATALOG = {
    "logins": [{"name": "backup", "password": PASSWORD, "sysadmin": True},
               {"name": "auditor", "password": PASSWORD, "view_any_database": False}],
    "databases": DATABASES,
}
SYSTEM_ROWS = [("master", "ONLINE", "SIMPLE"), ("tempdb", "ONLINE", "SIMPLE"), ("model", "ONLINE", "FULL"),
               ("msdb", "ONLINE", "SIMPLE")]


@dataclass
class Server:
    """A SQL Server to connect to: the connector, where it listens, and a port where nothing does."""

    connector: SqlConnector
    endpoint: Endpoint
    closed: Endpoint


def _fake(catalog: dict, request) -> Server:
    address = Endpoint(host="127.0.0.1", port=1433)
    return Server(FakeSql.of(catalog, address), address, Endpoint(host="127.0.0.1", port=closed_port()))


def _pyodbc(catalog: dict, request) -> Server:
    emulator = request.getfixturevalue("sqlserver_emulator")(catalog)
    return Server(PyodbcConnector(), Endpoint(host="127.0.0.1", port=emulator.port),
                  Endpoint(host="127.0.0.1", port=closed_port()))


@pytest.fixture(params=["fake", pytest.param("pyodbc", marks=pytest.mark.emulator)])
def server(request) -> Callable[[dict], Server]:
    """`start(catalog) -> Server`: the instance `catalog` describes, served by the fake or by the emulator."""
    make = {"fake": _fake, "pyodbc": _pyodbc}[request.param]
    return lambda catalog: make(catalog, request)


def types(found: list[dict]) -> set[tuple[tuple[str, type], ...]]:
    return {tuple((key, type(value)) for key, value in row.items()) for row in found}


def test_the_catalog_queries_answer_the_same_rows_keys_and_types(server):
    """A sysadmin sees every database, system ones included, as rows of three strings; can_view_all is int 1."""
    started = server(CATALOG)
    session = started.connector.connect(started.endpoint, "backup", PASSWORD, 3)
    try:
        databases, visibility = session.query(DATABASES_SQL), session.query(VISIBILITY_SQL)
    finally:
        session.close()
    expected = SYSTEM_ROWS + [(db["name"], db.get("state", "ONLINE"), db["recovery_model"]) for db in DATABASES]
    assert sorted((row["name"], row["state_desc"], row["recovery_model_desc"]) for row in databases) == sorted(expected)
    assert types(databases) == {(("name", str), ("state_desc", str), ("recovery_model_desc", str))}
    assert visibility == [{"can_view_all": 1}] and types(visibility) == {(("can_view_all", int),)}


def test_a_login_without_view_any_database_sees_master_tempdb_and_its_own(server):
    """Without VIEW ANY DATABASE a login sees master, tempdb and the databases it owns; can_view_all is 0."""
    started = server(CATALOG)
    session = started.connector.connect(started.endpoint, "auditor", PASSWORD, 3)
    try:
        databases, visibility = session.query(DATABASES_SQL), session.query(VISIBILITY_SQL)
    finally:
        session.close()
    assert sorted(row["name"] for row in databases) == ["archive", "master", "tempdb"]
    assert visibility == [{"can_view_all": 0}] and types(visibility) == {(("can_view_all", int),)}


def test_a_wrong_password_is_a_login_error_naming_the_user_not_the_password(server):
    """A wrong password is SqlError kind login, 'login failed for user ...', without the password."""
    started = server(CATALOG)
    with pytest.raises(SqlError) as caught:
        started.connector.connect(started.endpoint, "backup", "Wrong-Pa55-xyz", 3)
    assert caught.value.kind == "login"
    assert caught.value.message == "login failed for user 'backup'"
    assert "Wrong-Pa55-xyz" not in str(caught.value) and PASSWORD not in str(caught.value)


def test_a_closed_port_is_refused(server):
    """Connecting where nothing listens is SqlError kind refused."""
    started = server(CATALOG)
    with pytest.raises(SqlError) as caught:
        started.connector.connect(started.closed, "backup", PASSWORD, 3)
    assert caught.value.kind == "refused" and caught.value.message == "connection refused"


def test_close_can_be_called_twice_and_ends_the_session(server):
    """close() can be called, and again; a closed session answers no query (SqlError)."""
    started = server(CATALOG)
    session = started.connector.connect(started.endpoint, "backup", PASSWORD, 3)
    assert session.query(VISIBILITY_SQL) == [{"can_view_all": 1}]
    session.close()
    session.close()
    with pytest.raises(SqlError):
        session.query(VISIBILITY_SQL)
