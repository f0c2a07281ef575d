"""ag_backup_preference: availability databases for which this replica is not the preferred backup replica; the
pure logic and fix statements, then the item through the real driver (pyodbc + FreeTDS) against the emulator, and
the emulator's availability-group views through python-tds."""

from __future__ import annotations

import dataclasses
import time

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks import ag_backup_preference
from precheck.checks.ag_backup_preference import PREFERENCE_SQL, Preference, fix
from precheck.models import CheckRequest, ItemStatus, Outcome
from precheck.runner import run_check
from tests.fakes import FakeSecrets
from tests.fakes import instance as fake_instance
from tests.fakes import probes as fake_probes


def pref(preference="SECONDARY", primary=True, group="ag1", server="SQL01", name="orders") -> Preference:
    return Preference(name=name, state="ONLINE", recovery_model="FULL", preferred=False, group=group,
                      preference=preference, replica_server=server, primary=primary)


# --- the fix statement --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("preference", "primary", "statement"), [
    ("PRIMARY", False, "ALTER AVAILABILITY GROUP [ag1] SET (AUTOMATED_BACKUP_PREFERENCE = SECONDARY);"),
    ("SECONDARY", True, "ALTER AVAILABILITY GROUP [ag1] SET (AUTOMATED_BACKUP_PREFERENCE = PRIMARY);"),
    ("SECONDARY_ONLY", True, "ALTER AVAILABILITY GROUP [ag1] SET (AUTOMATED_BACKUP_PREFERENCE = PRIMARY);"),
    ("NONE", True, "ALTER AVAILABILITY GROUP [ag1] MODIFY REPLICA ON N'SQL01' WITH (BACKUP_PRIORITY = 100);"),
    ("SECONDARY", False, "ALTER AVAILABILITY GROUP [ag1] MODIFY REPLICA ON N'SQL01' WITH (BACKUP_PRIORITY = 100);"),
    ("SECONDARY", None, "ALTER AVAILABILITY GROUP [ag1] MODIFY REPLICA ON N'SQL01' WITH (BACKUP_PRIORITY = 100);"),
])
def test_the_fix_makes_this_replica_preferred_for_its_role(preference, primary, statement):
    """A secondary under PRIMARY: SECONDARY; a primary under SECONDARY(_ONLY): PRIMARY; otherwise (NONE, a
    secondary losing on priority, the role unknown): this replica's backup priority to 100."""
    text = fix(pref(preference, primary))
    assert text.split("\n")[0].startswith("-- 'orders': this replica is not the preferred backup replica")
    assert text.split("\n")[1] == statement


def test_without_the_group_the_fix_is_only_a_comment():
    assert fix(pref(group=None, preference=None)).count("\n") == 0


def test_the_fix_quotes_hostile_group_and_replica_names():
    """A group name with ] stays in brackets; a server name with ' in an N'' literal."""
    group, server = "a]g", "SQL01\\it's"
    text = fix(pref("NONE", True, group=group, server=server, name="o'rders\n"))
    comment_line, statement = text.split("\n", 1)
    assert comment_line.startswith("-- ")
    assert statement == (f"ALTER AVAILABILITY GROUP [{group.replace(']', ']]')}] MODIFY REPLICA ON "
                         f"N'{server.replace(chr(39), chr(39) * 2)}' WITH (BACKUP_PRIORITY = 100);")


def test_a_group_name_holding_a_line_break_gives_only_comments():
    """Brackets do not stop sqlcmd or SSMS reading a line of the name as `GO`: such a fix is not runnable as
    written, so it is only comments (fixes.guarded)."""
    text = fix(pref("NONE", True, group="x\nGO\nDROP DATABASE y", server="s--1"))
    assert all(line.startswith("--") for line in text.splitlines())
    assert "NOT RUNNABLE AS WRITTEN" in text


# --- through the real driver ------------------------------------------------------------------------------

PASSWORD = "Emu-Pa55-word"
LOGIN = "backup"


def run(emulator, password=PASSWORD) -> Outcome:
    instance = fake_instance(server=f"127.0.0.1,{emulator.port}", user=LOGIN)
    request = CheckRequest(run_id="r1", instance=instance, item="ag_backup_preference", deadline=time.time() + 60)
    probes = fake_probes(sql=PyodbcConnector(), secrets=FakeSecrets({"env:SQL_PASSWORD": password}))
    return run_check(ag_backup_preference.ITEM, request, probes)


def start(sqlserver_emulator, databases, groups=(), version="16.0.4135.4", **login):
    return sqlserver_emulator({"version": version, "logins": [{"name": LOGIN, "password": PASSWORD, **login}],
                               "availability_groups": list(groups), "databases": databases})


@pytest.mark.emulator
def test_emulated_no_availability_groups_passes(sqlserver_emulator):
    """A sysadmin on an instance without availability groups: PASSED, 'no availability groups'."""
    outcome = run(start(sqlserver_emulator, [{"name": "sales"}], sysadmin=True))
    assert outcome.status is ItemStatus.PASSED, outcome.message
    assert outcome.message == "no availability groups"
    assert outcome.code == "SQL_SERVER_AG_NOT_PREFERRED_BACKUP_REPLICA"


@pytest.mark.emulator
def test_emulated_2008_r2_has_no_availability_groups(sqlserver_emulator):
    """SQL Server 2008 R2: PASSED without asking for columns it does not have."""
    outcome = run(start(sqlserver_emulator, [{"name": "sales"}], version="10.50.6000.34", sysadmin=True))
    assert outcome.status is ItemStatus.PASSED, outcome.message
    assert outcome.message == "no availability groups (SQL Server before 2012)"


@pytest.mark.emulator
def test_emulated_preferred_everywhere_passes(sqlserver_emulator):
    """A secondary under SECONDARY and a primary under PRIMARY: preferred for both, PASSED."""
    outcome = run(start(sqlserver_emulator, [
        {"name": "orders", "availability_group": {"name": "ag1", "role": "SECONDARY"}},
        {"name": "billing", "availability_group": {"name": "ag2", "role": "PRIMARY"}}],
        [{"name": "ag1", "automated_backup_preference": "SECONDARY"},
         {"name": "ag2", "automated_backup_preference": "PRIMARY"}], sysadmin=True))
    assert outcome.status is ItemStatus.PASSED, outcome.message
    assert outcome.message == "this replica is the preferred backup replica for all 2 availability database(s)"
    assert outcome.details["groups"] == ["ag1 (SECONDARY)", "ag2 (PRIMARY)"]


@pytest.mark.emulator
def test_emulated_not_preferred_warns_with_the_groups_preference_and_fix(sqlserver_emulator):
    """A primary under the default preference (SECONDARY): WARNING naming the database, the group, the
    preference and what it means, with the fix to run on the primary."""
    outcome = run(start(sqlserver_emulator, [
        {"name": "orders", "availability_group": {"name": "ag]1", "role": "PRIMARY"}},
        {"name": "sales"}], sysadmin=True))
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert outcome.message == ("this replica is not the preferred backup replica for 1 of 1 availability "
                               "database(s) ('orders')")
    (db,) = outcome.affected
    assert db.name == "orders"
    assert db.reason.startswith("this primary replica is not the preferred backup replica of availability group "
                                "'ag]1' (automated backup preference SECONDARY: backups run on a secondary")
    assert db.fix.endswith("ALTER AVAILABILITY GROUP [ag]]1] SET (AUTOMATED_BACKUP_PREFERENCE = PRIMARY);")


@pytest.mark.emulator
def test_emulated_without_view_any_definition_the_preference_is_unknown_but_still_named(sqlserver_emulator):
    """VIEW SERVER STATE but not VIEW ANY DEFINITION: the function still says 'not preferred', the group is not
    named, and the advice grants VIEW ANY DEFINITION."""
    outcome = run(start(sqlserver_emulator, [
        {"name": "orders", "availability_group": {"name": "ag1", "role": "SECONDARY"}}],
        [{"name": "ag1", "automated_backup_preference": "PRIMARY"}],
        permissions=["CREATE ANY DATABASE", "VIEW SERVER STATE"]))
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert outcome.affected[0].reason == "not the preferred backup replica (its group's preference cannot be read)"
    assert "GRANT VIEW ANY DEFINITION TO [backup];" in outcome.advice


@pytest.mark.emulator
def test_emulated_low_privileged_login_never_passes(sqlserver_emulator):
    """Without VIEW ANY DATABASE the availability databases may be hidden: never 'no availability groups'."""
    outcome = run(start(sqlserver_emulator, [
        {"name": "orders", "availability_group": {"name": "ag1", "role": "SECONDARY"}}], view_any_database=False))
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert "GRANT VIEW ANY DATABASE TO [backup];" in outcome.advice


@pytest.mark.emulator
def test_emulated_wrong_password_is_an_error(sqlserver_emulator):
    outcome = run(start(sqlserver_emulator, [], sysadmin=True), password="Wrong-Pa55-word")
    assert outcome.status is ItemStatus.ERROR
    assert outcome.message.startswith("cannot read the availability groups of 127.0.0.1,")
    assert outcome.details["reason"] == "login"


@pytest.mark.emulator
def test_pytds_reads_the_groups_replicas_and_preferred_replica(sqlserver_emulator):
    """The item's query through python-tds: each availability database with the function's answer, its group,
    preference, replica name and priority; priorities decide under NONE."""
    from tests.emulators.test_tds_emulator import pytds_connect

    emulator = start(sqlserver_emulator, [
        {"name": "a", "availability_group": {"name": "g1", "role": "SECONDARY"}},
        {"name": "b", "availability_group": {"name": "g2"}},
        {"name": "c", "availability_group": {"name": "g3", "role": "SECONDARY",
                                             "synchronization_state": "NOT SYNCHRONIZING"}},
        {"name": "plain"}],
        [{"name": "g1", "automated_backup_preference": "PRIMARY"},
         {"name": "g2", "automated_backup_preference": "NONE", "backup_priority": 60, "partner_backup_priority": 40},
         {"name": "g3", "automated_backup_preference": "SECONDARY_ONLY"}], sysadmin=True)
    with pytds_connect(emulator, user=LOGIN, password=PASSWORD) as conn, conn.cursor() as cursor:
        cursor.execute(PREFERENCE_SQL)
        rows = {r[0]: (r[3], r[4], r[5], r[6], r[7]) for r in cursor.fetchall()}
        cursor.execute("SELECT sys.fn_hadr_backup_is_preferred_replica('plain'), "
                       "CAST(SERVERPROPERTY('IsHadrEnabled') AS int)")
        assert tuple(cursor.fetchone()) == (True, 1)
    assert rows == {"a": (False, "g1", "PRIMARY", "TDSEMU", 50), "b": (True, "g2", "NONE", "TDSEMU", 60),
                    "c": (False, "g3", "SECONDARY_ONLY", "TDSEMU", 50)}


# --- the value classes: written by hand (issue 16's cold start), they behave as the dataclasses they were ----------

def test_preference_is_frozen_and_reading_a_plain_record():
    assert pref() == Preference("orders", "ONLINE", "FULL", False, "ag1", "SECONDARY", "SQL01", True)
    assert hash(pref()) == hash(pref()) and pref() != pref(primary=False)
    assert repr(pref(group=None)) == ("Preference(name='orders', state='ONLINE', recovery_model='FULL', "
                                      "preferred=False, group=None, preference='SECONDARY', replica_server='SQL01', "
                                      "primary=True)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pref().group = "ag2"  # type: ignore[misc]
    reading = ag_backup_preference.Reading([], None, {})  # type: ignore[arg-type]
    assert reading.roles_unreadable is None and reading.before_2012 is False
    assert reading == ag_backup_preference.Reading([], None, {}, None, False)  # type: ignore[arg-type]
    reading.before_2012 = True  # mutable, as a plain dataclass
    assert reading != ag_backup_preference.Reading([], None, {})  # type: ignore[arg-type]
    assert repr(reading) == "Reading(rows=[], visibility=None, roles={}, roles_unreadable=None, before_2012=True)"
    with pytest.raises(TypeError):
        hash(reading)
