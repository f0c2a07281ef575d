"""The TDS emulator's snapshots, availability groups and standby databases: what the catalog accepts, and what
sys.databases and sys.dm_hadr_database_replica_states answer through pyodbc."""

from __future__ import annotations

import re

import pyodbc
import pytest

from tds_emulator import Catalog, CatalogError
from tests.fixtures.sqlserver import odbc_connection_string

pytestmark = pytest.mark.emulator

CATALOG = {
    "logins": [{"name": "sa", "password": "pw", "sysadmin": True}, {"name": "app", "password": "pw"}],
    "databases": [
        {"name": "sales"},
        {"name": "sales_snap", "snapshot_of": "sales"},
        {"name": "orders", "availability_group": {"name": "ag1", "role": "SECONDARY",
                                                  "synchronization_state": "NOT_SYNCHRONIZING"}},
        {"name": "billing", "availability_group": {"name": "ag1"}},
        {"name": "ls_copy", "is_in_standby": True, "is_read_only": True},
    ],
}


def query(emulator, sql: str, user: str = "sa") -> list[tuple]:
    connection = pyodbc.connect(odbc_connection_string(emulator, user, "pw"), timeout=5, autocommit=True)
    try:
        return [tuple(row) for row in connection.cursor().execute(sql).fetchall()]
    finally:
        connection.close()


def test_sys_databases_carries_snapshots_standby_and_group_ids(sqlserver_emulator):
    """source_database_id names a snapshot's source (snapshots are read-only); is_in_standby; replica_id and
    group_database_id are set for availability databases only, the group database id shared by none other."""
    emulator = sqlserver_emulator(CATALOG)
    rows = {row[0]: row[1:] for row in query(emulator, "SELECT name, source_database_id, is_read_only, is_in_standby, "
                                                       "replica_id, group_database_id FROM sys.databases")}
    sales_id = query(emulator, "SELECT database_id FROM sys.databases WHERE name = 'sales'")[0][0]
    assert rows["sales_snap"][:3] == (sales_id, True, False)
    assert rows["ls_copy"][:3] == (None, True, True)
    assert rows["sales"][3:] == (None, None)
    assert rows["orders"][3] == rows["billing"][3] and rows["orders"][4] != rows["billing"][4]
    assert re.fullmatch(r"[0-9A-F-]{36}", rows["orders"][4])


def test_the_hadr_view_has_a_local_row_per_availability_database_and_the_partners_on_the_primary(
        sqlserver_emulator):
    """On the primary the view adds a row for the secondary database (is_local 0); states are the catalog's."""
    emulator = sqlserver_emulator(CATALOG)
    rows = query(emulator, "SELECT d.name, rs.is_local, rs.is_primary_replica, rs.synchronization_state_desc, "
                           "rs.database_state_desc FROM sys.dm_hadr_database_replica_states AS rs "
                           "JOIN sys.databases AS d ON d.database_id = rs.database_id")
    assert sorted(rows) == [("billing", False, False, "SYNCHRONIZED", None),
                            ("billing", True, True, "SYNCHRONIZED", "ONLINE"),
                            ("orders", True, False, "NOT SYNCHRONIZING", "ONLINE")]


def test_the_hadr_view_is_refused_without_view_server_state(sqlserver_emulator):
    """Error 300, as SQL Server answers a login without VIEW SERVER STATE; the connection stays usable."""
    emulator = sqlserver_emulator(CATALOG)
    connection = pyodbc.connect(odbc_connection_string(emulator, "app", "pw"), timeout=5, autocommit=True)
    try:
        for _ in range(2):
            with pytest.raises(pyodbc.Error, match=re.escape(
                    "VIEW SERVER STATE permission was denied on object 'server', database 'master'. (300)")):
                connection.cursor().execute("SELECT database_id FROM sys.dm_hadr_database_replica_states").fetchall()
        assert connection.cursor().execute("SELECT 1 AS one").fetchall()[0][0] == 1
    finally:
        connection.close()


@pytest.mark.parametrize("database, message", [
    ({"name": "s", "snapshot_of": "missing"}, "snapshot_of must name another database"),
    ({"name": "s", "snapshot_of": "s"}, "snapshot_of must name another database"),
    ({"name": "s", "snapshot_of": "sales_snap"}, "'sales_snap' is itself a snapshot"),
    ({"name": "s", "snapshot_of": "sales", "availability_group": {"name": "ag"}}, "in no availability group"),
    ({"name": "s", "recovery_model": "SIMPLE", "availability_group": {"name": "ag"}}, "FULL recovery model"),
    ({"name": "model", "availability_group": {"name": "ag"}}, "a system database cannot be"),
    ({"name": "s", "availability_group": {"name": "ag", "role": "RESOLVING"}}, "PRIMARY or SECONDARY"),
    ({"name": "s", "availability_group": {"name": "ag", "synchronization_state": "SYNCED"}}, "synchronization_state"),
    ({"name": "s", "availability_group": {"name": "ag", "mode": "ASYNC"}}, "unknown key(s) mode"),
    ({"name": "s", "availability_group": "ag"}, "availability_group must be"),
])
def test_impossible_snapshots_and_groups_are_refused(database, message):
    """A catalog SQL Server could not have is a CatalogError naming what is wrong."""
    databases = [{"name": "sales"}, {"name": "sales_snap", "snapshot_of": "sales"}, database]
    with pytest.raises(CatalogError, match=re.escape(message)):
        Catalog.from_dict({"databases": databases})


@pytest.mark.parametrize("catalog, message", [
    ({"version": "10.50.6000.34", "databases": [{"name": "s", "availability_group": {"name": "ag"}}]},
     "availability groups exist from SQL Server 2012"),
    ({"version": "15.0.2000.5", "logins": [{"name": "p", "permissions": ["VIEW SERVER PERFORMANCE STATE"]}]},
     "VIEW SERVER PERFORMANCE STATE exists from SQL Server 2022"),
])
def test_what_the_version_does_not_have_is_refused(catalog, message):
    """Availability groups before 2012 and VIEW SERVER PERFORMANCE STATE before 2022 are CatalogErrors."""
    with pytest.raises(CatalogError, match=re.escape(message)):
        Catalog.from_dict(catalog)
