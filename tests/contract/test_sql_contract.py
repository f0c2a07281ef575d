"""The `SqlConnector` / `SqlSession` contract (precheck.ports): one suite, run on the fake the check tests use
(`tests.fakes.FakeSql`) and on the real `PyodbcConnector` (pyodbc, unixODBC, FreeTDS) against the TDS
emulator.

Both are given the same instance, described once as a catalog in the emulator's format, and asserted the
same way: the queries the checks run (`DATABASES_SQL`, `VISIBILITY_SQL`, `REPLICAS_SQL`) answer the same rows,
with the same keys and value types (snapshots left out; the HADR view refused, error 300, to a login without
VIEW SERVER STATE); a wrong password is SqlError kind `login` naming the user and never the password;
a closed port is SqlError kind `refused`; `close()` can be called (twice), after which the session answers
no more queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks._sql import DATABASES_SQL, REPLICAS_SQL, VISIBILITY_SQL
from precheck.models import Endpoint
from precheck.ports import SqlConnector, SqlError
from precheck.sqltarget import SqlTarget
from tests.fakes import FakeSql
from tests.helpers import closed_port

PASSWORD = "Contract-Pa55"
DATABASES = [
    {"name": "sales", "state": "ONLINE", "recovery_model": "FULL"},
    {"name": "reporting", "recovery_model": "SIMPLE"},
    {"name": "archive", "state": "OFFLINE", "recovery_model": "SIMPLE", "owner": "auditor"},
    {"name": "销售数据 O'Brien]; --", "state": "RECOVERY_PENDING", "recovery_model": "BULK_LOGGED"},
    {"name": "audit_log", "recovery_model": "FULL", "owner": "auditor"},
]
CATALOG = {
    "logins": [{"name": "backup", "password": PASSWORD, "sysadmin": True},
               {"name": "auditor", "password": PASSWORD, "view_any_database": False},
               {"name": "operator", "password": PASSWORD},
               {"name": "creator", "password": PASSWORD, "permissions": ["CREATE ANY DATABASE"]}],
    "databases": DATABASES,
}
RIGHTS = (("is_sysadmin", int), ("view_any_database", int), ("alter_any_database", int), ("create_database", int))
DATABASE_ROW = (("name", str), ("state_desc", str), ("recovery_model_desc", str), ("is_read_only", bool),
                ("is_in_standby", bool), ("in_availability_group", int))
REPLICA_ROW = (("name", str), ("is_primary_replica", bool), ("synchronization_state_desc", str),
               ("database_state_desc", str))
SYSTEM_ROWS = [("master", "ONLINE", "SIMPLE"), ("tempdb", "ONLINE", "SIMPLE"), ("model", "ONLINE", "FULL"),
               ("msdb", "ONLINE", "SIMPLE")]


@dataclass
class Server:
    """A SQL Server to connect to: the connector, where it listens, and a port where nothing does."""

    connector: SqlConnector
    endpoint: SqlTarget
    closed: SqlTarget


def _fake(catalog: dict, request) -> Server:
    address = Endpoint(host="127.0.0.1", port=1433)
    return Server(FakeSql.of(catalog, address), SqlTarget.at("127.0.0.1", 1433),
                  SqlTarget.at("127.0.0.1", closed_port()))


def _pyodbc(catalog: dict, request) -> Server:
    emulator = request.getfixturevalue("sqlserver_emulator")(catalog)
    return Server(PyodbcConnector(), SqlTarget.at("127.0.0.1", emulator.port, encrypt="off"),
                  SqlTarget.at("127.0.0.1", closed_port(), encrypt="off"))


@pytest.fixture(params=["fake", pytest.param("pyodbc", marks=pytest.mark.emulator)])
def server(request) -> Callable[[dict], Server]:
    """`start(catalog) -> Server`: the instance `catalog` describes, served by the fake or by the emulator."""
    make = {"fake": _fake, "pyodbc": _pyodbc}[request.param]
    return lambda catalog: make(catalog, request)


def types(found: list[dict]) -> set[tuple[tuple[str, type], ...]]:
    return {tuple((key, type(value)) for key, value in row.items()) for row in found}


def test_the_catalog_queries_answer_the_same_rows_keys_and_types(server):
    """A sysadmin sees every database, system ones included, as rows of three strings; the visibility row is
    four int 1s."""
    started = server(CATALOG)
    session = started.connector.connect(started.endpoint, "backup", PASSWORD, 3)
    try:
        databases, visibility = session.query(DATABASES_SQL), session.query(VISIBILITY_SQL)
    finally:
        session.close()
    expected = SYSTEM_ROWS + [(db["name"], db.get("state", "ONLINE"), db["recovery_model"]) for db in DATABASES]
    assert sorted((row["name"], row["state_desc"], row["recovery_model_desc"]) for row in databases) == sorted(expected)
    assert types(databases) == {DATABASE_ROW}
    assert visibility == [{"is_sysadmin": 1, "view_any_database": 1, "alter_any_database": 1, "create_database": 1}]
    assert types(visibility) == {RIGHTS}


def test_a_login_without_view_any_database_sees_master_tempdb_and_its_own_online_ones(server):
    """Without VIEW ANY DATABASE a login sees master, tempdb and the databases it owns, except OFFLINE ones;
    the visibility row is all 0."""
    started = server(CATALOG)
    session = started.connector.connect(started.endpoint, "auditor", PASSWORD, 3)
    try:
        databases, visibility = session.query(DATABASES_SQL), session.query(VISIBILITY_SQL)
    finally:
        session.close()
    assert sorted(row["name"] for row in databases) == ["audit_log", "master", "tempdb"]
    assert visibility == [{"is_sysadmin": 0, "view_any_database": 0, "alter_any_database": 0, "create_database": 0}]
    assert types(visibility) == {RIGHTS}


@pytest.mark.parametrize("user, offline_seen, rights", [
    ("operator", False, {"is_sysadmin": 0, "view_any_database": 1, "alter_any_database": 0, "create_database": 0}),
    ("creator", True, {"is_sysadmin": 0, "view_any_database": 1, "alter_any_database": 0, "create_database": 1}),
])
def test_offline_databases_are_seen_only_with_create_any_database(server, user, offline_seen, rights):
    """VIEW ANY DATABASE alone (public's default) shows every database but the OFFLINE ones; CREATE ANY
    DATABASE shows those too, and answers create_database 1."""
    started = server(CATALOG)
    session = started.connector.connect(started.endpoint, user, PASSWORD, 3)
    try:
        databases, visibility = session.query(DATABASES_SQL), session.query(VISIBILITY_SQL)
    finally:
        session.close()
    everything = [row[0] for row in SYSTEM_ROWS] + [db["name"] for db in DATABASES]
    expected = everything if offline_seen else [name for name in everything if name != "archive"]
    assert sorted(row["name"] for row in databases) == sorted(expected)
    assert visibility == [rights] and types(visibility) == {RIGHTS}


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
    assert session.query(VISIBILITY_SQL)[0]["is_sysadmin"] == 1
    session.close()
    session.close()
    with pytest.raises(SqlError):
        session.query(VISIBILITY_SQL)


REPLICATED = {
    "logins": [{"name": "backup", "password": PASSWORD, "sysadmin": True},
               {"name": "operator", "password": PASSWORD},
               {"name": "monitor", "password": PASSWORD, "permissions": ["VIEW SERVER STATE"]}],
    "databases": [
        {"name": "sales"},
        {"name": "sales_snapshot", "snapshot_of": "sales"},
        {"name": "orders", "availability_group": {"name": "ag1", "role": "SECONDARY",
                                                  "synchronization_state": "SYNCHRONIZING"}},
        {"name": "billing", "availability_group": {"name": "ag1", "role": "PRIMARY"}},
        {"name": "ledger", "state": "RECOVERING",
         "availability_group": {"name": "ag2", "role": "SECONDARY", "synchronization_state": "REVERTING"}},
        {"name": "archive", "is_read_only": True, "recovery_model": "SIMPLE"},
        {"name": "ls_copy", "is_read_only": True, "is_in_standby": True},
    ],
}


def test_snapshots_are_left_out_and_flags_and_group_membership_come_back_typed(server):
    """DATABASES_SQL never returns a database snapshot; read-only, standby and availability-group membership
    come back as bool, bool and int."""
    started = server(REPLICATED)
    session = started.connector.connect(started.endpoint, "backup", PASSWORD, 3)
    try:
        databases = session.query(DATABASES_SQL)
    finally:
        session.close()
    rows = {row["name"]: (row["is_read_only"], row["is_in_standby"], row["in_availability_group"])
            for row in databases}
    assert "sales_snapshot" not in rows
    assert {name: rows[name] for name in ("sales", "orders", "billing", "ledger", "archive", "ls_copy")} == {
        "sales": (False, False, 0), "orders": (False, False, 1), "billing": (False, False, 1),
        "ledger": (False, False, 1), "archive": (True, False, 0), "ls_copy": (True, True, 0)}
    assert types(databases) == {DATABASE_ROW}


@pytest.mark.parametrize("user", ["backup", "monitor"])
def test_the_local_replica_of_each_availability_database_is_read_with_view_server_state(server, user):
    """With VIEW SERVER STATE (or sysadmin) REPLICAS_SQL answers one row per availability database: this
    instance's replica, its role, synchronization state and database state."""
    started = server(REPLICATED)
    session = started.connector.connect(started.endpoint, user, PASSWORD, 3)
    try:
        replicas = session.query(REPLICAS_SQL)
    finally:
        session.close()
    assert sorted((row["name"], row["is_primary_replica"], row["synchronization_state_desc"],
                   row["database_state_desc"]) for row in replicas) == [
        ("billing", True, "SYNCHRONIZED", "ONLINE"), ("ledger", False, "REVERTING", "RECOVERING"),
        ("orders", False, "SYNCHRONIZING", "ONLINE")]
    assert types(replicas) == {REPLICA_ROW}


@pytest.mark.parametrize("version, permission", [("15.0.2000.5", "VIEW SERVER STATE"),
                                                 ("16.0.1000.6", "VIEW SERVER PERFORMANCE STATE")])
def test_a_login_without_view_server_state_is_refused_the_hadr_view(server, version, permission):
    """Without VIEW SERVER STATE the HADR view is refused (error 300, kind query), naming the permission the
    version asks for (2022+: VIEW SERVER PERFORMANCE STATE); the session still answers afterwards."""
    started = server({**REPLICATED, "version": version})
    session = started.connector.connect(started.endpoint, "operator", PASSWORD, 3)
    try:
        with pytest.raises(SqlError) as caught:
            session.query(REPLICAS_SQL)
        assert session.query(VISIBILITY_SQL)[0]["is_sysadmin"] == 0
    finally:
        session.close()
    assert caught.value.kind == "query"
    assert f"{permission} permission was denied on object 'server', database 'master'." in caught.value.message
    assert "(300)" in caught.value.message


def test_view_server_performance_state_alone_reads_the_hadr_view_from_sql_server_2022(server):
    """On SQL Server 2022 and later VIEW SERVER PERFORMANCE STATE (which VIEW SERVER STATE covers) is enough."""
    started = server({**REPLICATED, "version": "16.0.1000.6",
                      "logins": [{"name": "perf", "password": PASSWORD,
                                  "permissions": ["VIEW SERVER PERFORMANCE STATE"]}]})
    session = started.connector.connect(started.endpoint, "perf", PASSWORD, 3)
    try:
        assert len(session.query(REPLICAS_SQL)) == 3
    finally:
        session.close()
