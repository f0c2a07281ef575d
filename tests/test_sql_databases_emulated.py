"""Snapshots, availability-group replicas and standby databases end to end: the real checks through the real
driver stack (PyodbcConnector: pyodbc -> unixODBC -> FreeTDS -> TCP) against the SQL Server emulator."""

from __future__ import annotations

import time

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks import database_status, recovery_mode
from precheck.models import CheckRequest, ItemStatus, Outcome
from precheck.runner import run_check
from tests.fakes import FakeSecrets
from tests.fakes import instance as fake_instance
from tests.fakes import probes as fake_probes

pytestmark = pytest.mark.emulator

PASSWORD = "Emu-Pa55-word"
LOGIN = "ops]team"  # QUOTENAME doubles the ']'
DATABASES = [
    {"name": "sales", "recovery_model": "FULL"},
    {"name": "sales_before_upgrade", "snapshot_of": "sales"},
    {"name": "orders", "availability_group": {"name": "ag1", "role": "SECONDARY",
                                              "synchronization_state": "SYNCHRONIZING"}},
    {"name": "billing", "availability_group": {"name": "ag1", "role": "PRIMARY"}},
]


def run(emulator, item, user: str = LOGIN) -> Outcome:
    instance = fake_instance(server=f"127.0.0.1,{emulator.port}", user=user)
    request = CheckRequest(run_id="r1", instance=instance, item=item.ITEM.name, deadline=time.time() + 60)
    probes = fake_probes(sql=PyodbcConnector(), secrets=FakeSecrets({"env:SQL_PASSWORD": PASSWORD}))
    return run_check(item.ITEM, request, probes)


def start(sqlserver_emulator, databases, **login):
    return sqlserver_emulator({"logins": [{"name": LOGIN, "password": PASSWORD, **login}], "databases": databases})


@pytest.mark.parametrize("login", [{"sysadmin": True},
                                   {"permissions": ["CREATE ANY DATABASE", "VIEW SERVER STATE"]}],
                         ids=["sysadmin", "create-any-database+view-server-state"])
def test_a_healthy_secondary_is_named_with_the_backups_it_takes_and_snapshots_are_left_out(sqlserver_emulator,
                                                                                           login):
    """A SYNCHRONIZING secondary is no failure: database_status warns that only COPY_ONLY full and log backups
    run there, naming it; the snapshot appears nowhere."""
    emulator = start(sqlserver_emulator, DATABASES, **login)
    outcome = run(emulator, database_status)
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert outcome.affected == []
    assert "secondary replicas of an availability group here ('orders')" in outcome.message
    assert "COPY_ONLY full backups" in outcome.advice
    assert outcome.details["availability_groups"] == {"databases": 2, "replica_state_readable": True,
                                                      "secondary": ["orders"]}
    assert outcome.details["databases_seen"] == 7
    assert "sales_before_upgrade" not in outcome.model_dump_json()


def test_without_view_server_state_the_replica_is_unknown_and_the_advice_grants_it(sqlserver_emulator):
    """The emulator refuses the HADR view (error 300) to a login without VIEW SERVER STATE: the item neither
    crashes nor passes; it warns with the server's reason and the GRANT."""
    emulator = start(sqlserver_emulator, DATABASES, permissions=["CREATE ANY DATABASE"])
    outcome = run(emulator, database_status)
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert "2 database(s) are in an availability group ('orders', 'billing')" in outcome.message
    assert "VIEW SERVER STATE permission was denied on object 'server', database 'master'." in outcome.message
    assert "GRANT VIEW SERVER STATE TO [ops]]team];" in outcome.advice
    assert outcome.details["availability_groups"]["replica_state_readable"] is False


def test_a_secondary_that_is_not_synchronizing_fails(sqlserver_emulator):
    """A secondary in REVERTING (sys.databases: RECOVERING) cannot be backed up: FAILED, with its label."""
    emulator = start(sqlserver_emulator, [
        {"name": "ledger", "state": "RECOVERING",
         "availability_group": {"name": "ag2", "role": "SECONDARY", "synchronization_state": "REVERTING"}}],
        sysadmin=True)
    outcome = run(emulator, database_status)
    assert outcome.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in outcome.affected] == [("ledger", "RECOVERING")]


def test_standby_and_read_only_databases_get_their_own_advice(sqlserver_emulator):
    """A log shipping standby fails database_status as STANDBY and is left out of recovery_mode; a read-only
    database in SIMPLE gets the READ_WRITE-first advice."""
    emulator = start(sqlserver_emulator, [
        {"name": "ls_copy", "recovery_model": "SIMPLE", "is_read_only": True, "is_in_standby": True},
        {"name": "archive", "recovery_model": "SIMPLE", "is_read_only": True}], sysadmin=True)
    status, recovery = run(emulator, database_status), run(emulator, recovery_mode)
    assert status.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in status.affected] == [("ls_copy", "STANDBY")]
    assert recovery.status is ItemStatus.WARNING
    assert [db.name for db in recovery.affected] == ["archive"]
    assert "SET READ_WRITE first" in recovery.advice
