"""The SQL items on what real servers have besides a state: database snapshots, availability-group replicas,
read-only and standby databases, and Azure SQL Database's states (issue 10). Pure check logic through the
fake SQL Server (tests/fakes.py), no driver."""

from __future__ import annotations

import pytest

from precheck.checks import database_status, recovery_mode
from precheck.models import ItemStatus
from precheck.ports import SqlError
from tests.fakes import (
    VIEW_SERVER_STATE_DENIED,
    FakeSession,
    FakeSql,
    context,
    database_row,
    probes,
    replica_row,
)

SYSTEM = [database_row("master", model="SIMPLE"), database_row("tempdb", model="SIMPLE"),
          database_row("model"), database_row("msdb", model="SIMPLE")]


def run(item, databases, replicas=None, user="backup"):
    session = FakeSession(SYSTEM + databases, replicas=replicas)
    return item.run(context(probes(sql=FakeSql(session)), user=user)), session


def of_catalog(item, databases, **login):
    """`item` against the instance an emulator-format catalog describes (the fake keeps SQL Server's rules)."""
    catalog = {"logins": [{"name": "backup", "password": "s3cret-Pa55", "sysadmin": True, **login}],
               "databases": databases}
    return item.run(context(probes(sql=FakeSql.of(catalog))))


# --- database snapshots ----------------------------------------------------------------------------------


def test_a_database_snapshot_is_never_reported():
    """A snapshot (sys.databases.source_database_id set) cannot be backed up (error 3002): neither item names
    it, whatever its state or recovery model."""
    databases = [{"name": "sales", "recovery_model": "FULL"},
                 {"name": "sales_before_upgrade", "snapshot_of": "sales", "state": "SUSPECT",
                  "recovery_model": "SIMPLE"}]
    status, recovery = of_catalog(database_status, databases), of_catalog(recovery_mode, databases)
    assert (status.status, recovery.status) == (ItemStatus.PASSED, ItemStatus.PASSED), status.message
    for verdict in (status, recovery):
        assert "sales_before_upgrade" not in verdict.message + verdict.advice + str(verdict.details)
        assert verdict.details["databases_seen"] == 5


# --- availability groups ---------------------------------------------------------------------------------


def test_a_healthy_secondary_is_no_failure_but_says_only_copy_only_full_and_log_backups_run_there():
    """A secondary replica that is SYNCHRONIZING is backed up fine, but only with COPY_ONLY full and log
    backups: database_status warns so, naming it, and details list it."""
    verdict, session = run(database_status, [database_row("orders", in_availability_group=True),
                                             database_row("billing", in_availability_group=True)],
                           replicas=[replica_row("orders", primary=False, synchronization="SYNCHRONIZING"),
                                     replica_row("billing", primary=True)])
    assert verdict.status is ItemStatus.WARNING, verdict.message
    assert verdict.affected == []
    assert verdict.message == ("all 6 databases are ONLINE, but 1 database(s) are secondary replicas of an "
                               "availability group here ('orders')")
    assert "COPY_ONLY full backups" in verdict.advice and "no differentials" in verdict.advice
    assert verdict.details["availability_groups"] == {"databases": 2, "replica_state_readable": True,
                                                      "secondary": ["orders"]}


def test_the_replica_state_wins_over_sys_databases_for_an_availability_database():
    """For Always On databases the state is the HADR view's (sys.databases says to query it there): a
    synchronized secondary the view shows ONLINE is not failed, whatever sys.databases said."""
    verdict, _ = run(database_status, [database_row("orders", "RESTORING", in_availability_group=True)],
                     replicas=[replica_row("orders", primary=False)])
    assert verdict.status is ItemStatus.WARNING and verdict.affected == [], verdict.message


@pytest.mark.parametrize("synchronization", ["NOT SYNCHRONIZING", "REVERTING", "INITIALIZING"])
def test_a_secondary_that_is_not_synchronizing_cannot_be_backed_up(synchronization):
    """Backups on a secondary need SYNCHRONIZED or SYNCHRONIZING: any other state fails the item, labelled
    with it, with advice to resume data movement or back up on the primary."""
    verdict, _ = run(database_status, [database_row("orders", in_availability_group=True)],
                     replicas=[replica_row("orders", synchronization=synchronization)])
    assert verdict.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in verdict.affected] == [("orders", f"SECONDARY {synchronization}")]
    assert verdict.message == f"1 database(s) cannot be backed up here (SECONDARY {synchronization})"
    assert verdict.advice.startswith(f"SECONDARY {synchronization}:") and "SET HADR RESUME" in verdict.advice


def test_a_primary_replica_whose_database_is_not_online_fails_with_that_state():
    """A primary replica reports the HADR view's database state like any other database's."""
    verdict, _ = run(database_status, [database_row("billing", in_availability_group=True)],
                     replicas=[replica_row("billing", primary=True, state="RECOVERY_PENDING")])
    assert verdict.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in verdict.affected] == [("billing", "RECOVERY_PENDING")]


def test_without_view_server_state_the_replica_role_is_unknown_and_said_so_with_the_grant():
    """A login that may not read sys.dm_hadr_database_replica_states (error 300) does not crash the item and
    does not pass it: a WARNING names the availability databases, the server's reason and the GRANT (login
    quoted as QUOTENAME does)."""
    verdict, _ = run(database_status, [database_row("orders", in_availability_group=True)],
                     replicas=SqlError("query", VIEW_SERVER_STATE_DENIED), user="ops]team")
    assert verdict.status is ItemStatus.WARNING
    assert "1 database(s) are in an availability group ('orders')" in verdict.message
    assert "cannot read sys.dm_hadr_database_replica_states" in verdict.message
    assert "VIEW SERVER STATE permission was denied" in verdict.message
    assert "GRANT VIEW SERVER STATE TO [ops]]team];" in verdict.advice
    assert "GRANT VIEW SERVER PERFORMANCE STATE TO [ops]]team];" in verdict.advice
    assert "COPY_ONLY" in verdict.advice
    assert verdict.details["availability_groups"]["replica_state_readable"] is False
    assert "VIEW SERVER STATE" in verdict.details["availability_groups"]["reason"]


def test_without_view_server_state_a_finding_is_still_reported_from_sys_databases():
    """An availability database sys.databases shows not ONLINE is still a finding when its replica is unknown."""
    verdict, _ = run(database_status, [database_row("orders", "SUSPECT", in_availability_group=True)],
                     replicas=SqlError("query", VIEW_SERVER_STATE_DENIED))
    assert verdict.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in verdict.affected] == [("orders", "SUSPECT")]
    assert "cannot read sys.dm_hadr_database_replica_states" in verdict.message


def test_a_connection_lost_while_reading_replicas_is_the_items_error():
    """Only a refused query makes the replica state unknown; a dropped connection is an ERROR as before."""
    verdict, _ = run(database_status, [database_row("orders", in_availability_group=True)],
                     replicas=SqlError("dropped", "the connection was closed while reading"))
    assert verdict.status is ItemStatus.ERROR


def test_the_hadr_view_is_read_only_when_a_database_is_in_a_group():
    """No availability database, no HADR query (and so no permission needed)."""
    verdict, session = run(database_status, [database_row("sales")],
                           replicas=SqlError("query", VIEW_SERVER_STATE_DENIED))
    assert verdict.status is ItemStatus.PASSED
    assert not any("dm_hadr" in sql for sql in session.queries)
    assert "availability_groups" not in verdict.details


# --- standby, read-only, Azure-only states ---------------------------------------------------------------


def test_a_standby_database_is_a_restore_target_not_a_backup_source():
    """A warm standby (is_in_standby, log shipping) is ONLINE but BACKUP refuses it (error 3036):
    database_status fails it as STANDBY; recovery_mode leaves it out."""
    databases = [database_row("ls_copy", model="SIMPLE", read_only=True, standby=True)]
    status, _ = run(database_status, databases)
    recovery, _ = run(recovery_mode, databases)
    assert status.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in status.affected] == [("ls_copy", "STANDBY")]
    assert status.message == "1 database(s) cannot be backed up here (STANDBY)"
    assert "restore target" in status.advice and "3036" in status.advice
    assert recovery.status is ItemStatus.PASSED


def test_a_read_only_database_in_simple_recovery_gets_read_write_first_advice():
    """A READ_ONLY database in SIMPLE is still named, with advice that SET RECOVERY needs READ_WRITE first and
    that its full backups already protect it."""
    verdict, _ = run(recovery_mode, [database_row("archive", model="SIMPLE", read_only=True),
                                     database_row("reporting", model="SIMPLE")])
    assert verdict.status is ItemStatus.WARNING
    assert sorted(db.name for db in verdict.affected) == ["archive", "reporting"]
    assert "READ_ONLY ('archive')" in verdict.advice and "SET READ_WRITE first" in verdict.advice


def test_a_read_only_database_is_backed_up_like_any_other():
    """READ_ONLY alone is no database_status finding."""
    verdict, _ = run(database_status, [database_row("archive", read_only=True)])
    assert verdict.status is ItemStatus.PASSED


@pytest.mark.parametrize("state", ["COPYING", "OFFLINE_SECONDARY"])
def test_azure_sql_database_states_get_advice_that_says_so(state):
    """COPYING and OFFLINE_SECONDARY exist only on Azure SQL Database: the advice says so."""
    verdict, _ = run(database_status, [database_row("db1", state)])
    assert verdict.status is ItemStatus.FAILED
    assert verdict.advice.startswith(f"{state}: a state only Azure SQL Database shows")


def test_sql_server_2008_without_group_database_id_is_still_read():
    """Before SQL Server 2012 sys.databases has no group_database_id (error 207): the items ask again without
    it, and report as before."""
    session = FakeSession(SYSTEM + [database_row("archive", "OFFLINE")], before_2012=True)
    verdict = database_status.run(context(probes(sql=FakeSql(session))))
    assert verdict.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in verdict.affected] == [("archive", "OFFLINE")]
    assert "availability_groups" not in verdict.details


def test_a_catalog_query_refused_twice_is_the_items_error():
    """When the older query fails too, the first error is reported (ERROR), not the second."""
    session = FakeSession(SYSTEM, error=SqlError("query", "SQL Server error: Invalid object name (208)"))
    verdict = database_status.run(context(probes(sql=FakeSql(session))))
    assert verdict.status is ItemStatus.ERROR and "(208)" in verdict.message


def test_a_database_row_is_a_frozen_value_and_each_catalog_its_own_replication():
    """Database and Replica (one per row, written by hand for issue 16) compare, hash and show as the frozen
    dataclasses they were; a catalog made without a Replication gets a new one, never a shared one."""
    import dataclasses

    from precheck.checks._databases import Database, Replica
    from precheck.checks._sql import DatabaseCatalog

    replica = Replica(False, "SYNCHRONIZED", "ONLINE")
    row = Database("sales", "ONLINE", "FULL", in_availability_group=True, replica=replica)
    same = Database("sales", "ONLINE", "FULL", False, False, True, Replica(False, "SYNCHRONIZED", "ONLINE"))
    assert row == same and hash(row) == hash(same) and row != Database("sales", "ONLINE", "SIMPLE")
    assert repr(row.replica) == "Replica(primary=False, synchronization_state='SYNCHRONIZED', database_state='ONLINE')"
    assert repr(Database("a", None, None)) == ("Database(name='a', state=None, recovery_model=None, read_only=False, "
                                               "standby=False, in_availability_group=False, replica=None)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.state = "OFFLINE"  # type: ignore[misc]
    first, second = DatabaseCatalog([row], True), DatabaseCatalog([row], True)
    first.replication.unreadable = "denied"
    assert second.replication.unreadable is None and first != second
