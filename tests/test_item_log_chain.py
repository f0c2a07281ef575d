"""log_chain: log backups (not copy-only) by other tools than the backup service in the last N days. The pure
logic through a fake session, then end to end through the real driver (pyodbc -> FreeTDS) against the emulator."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import time
from datetime import datetime, timedelta

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks import log_chain
from precheck.models import CheckRequest, ItemSettings, ItemStatus
from precheck.ports import SqlError
from precheck.runner import run_check
from tests.fakes import FakeSecrets, FakeSession, FakeSql, context, database_row, probes
from tests.fakes import instance as fake_instance

SYSTEM = [database_row("master", model="SIMPLE"), database_row("tempdb", model="SIMPLE"),
          database_row("model"), database_row("msdb", model="SIMPLE")]
DENIED = ("SQL Server error: The SELECT permission was denied on the object 'backupset', database 'msdb', schema "
          "'dbo'. (229) (SQLExecDirectW)")


def group(database, user="sa", software="Microsoft SQL Server", latest=datetime(2026, 11, 28, 1, 2, 3), backups=3):
    return {"database_name": database, "user_name": user, "software_name": software, "latest": latest,
            "backups": backups}


class HistorySession(FakeSession):
    """FakeSession that also answers HISTORY_SQL with `history` (its groups, or the SqlError to raise)."""

    def __init__(self, databases, history, **kwargs):
        super().__init__(SYSTEM + databases, **kwargs)
        self.history = history
        self.params = None

    def query(self, sql, params=()):
        if sql == log_chain.HISTORY_SQL:
            self.queries.append(sql)
            self.params = params
            if isinstance(self.history, Exception):
                raise self.history
            return [dict(row) for row in self.history]
        return super().query(sql, params)


def run(databases, history, settings=None, user="backup"):
    session = HistorySession(databases, history)
    ctx = context(probes(sql=FakeSql(session)), user=user, settings=settings or ItemSettings())
    return log_chain.ITEM.run(ctx), session


def test_another_tools_log_backups_are_named_with_who_and_when():
    """A database whose log the agent's maintenance plan backs up (not the configured identity) is named with
    software, user, time and count; the backup service's own backups are not; the window is a parameter."""
    verdict, session = run(
        [database_row("sales"), database_row("hr")],
        [group("sales", "NT SERVICE\\SQLSERVERAGENT", "Microsoft SQL Server"),
         group("hr", "HBR", "Hybrid Backup Recovery")],
        ItemSettings(log_chain_days=3, backup_identities=["hbr"]))
    assert verdict.status is ItemStatus.WARNING
    assert [db.name for db in verdict.affected] == ["sales"]
    assert verdict.affected[0].reason == ("3 log backup(s) by 'Microsoft SQL Server' as 'NT SERVICE\\SQLSERVERAGENT', "
                                          "the latest at 2026-11-28 01:02:03")
    assert "last 3 day(s)" in verdict.message and "COPY_ONLY" in verdict.advice
    assert session.params == (3,) and verdict.details["window_days"] == 3
    assert "BACKUP LOG [sales] TO <its destination> WITH COPY_ONLY;" in verdict.affected[0].fix


def test_the_configured_identity_alone_passes():
    verdict, _ = run([database_row("sales")], [group("sales", "svc", "HBR")],
                     ItemSettings(backup_identities=["svc"]))
    assert verdict.status is ItemStatus.PASSED, verdict.message


def test_without_identities_every_log_backup_is_another_tools():
    """Nothing configured: the one log backup job there is will break the service's chain once it starts."""
    verdict, _ = run([database_row("sales")], [group("sales")])
    assert verdict.status is ItemStatus.WARNING
    assert "no backup identity is configured" in verdict.message


def test_the_latest_of_several_takers_is_named_and_the_rest_counted():
    verdict, _ = run([database_row("sales")],
                     [group("sales", "a", latest=datetime(2026, 11, 20)),
                      group("sales", "b", latest=datetime(2026, 11, 27))])
    assert verdict.affected[0].reason.startswith("3 log backup(s) by 'Microsoft SQL Server' as 'b'")
    assert verdict.affected[0].reason.endswith("(and 1 other taker(s))")


def test_history_of_dropped_databases_is_ignored():
    verdict, _ = run([database_row("sales")], [group("gone")])
    assert verdict.status is ItemStatus.PASSED and verdict.affected == []


def test_unreadable_history_is_a_warning_with_the_grants():
    """Error 229 (no SELECT in msdb): never PASSED; the server's reason and the least GRANTs, names quoted."""
    verdict, _ = run([database_row("sales")], SqlError("query", DENIED), user="ops]team")
    assert verdict.status is ItemStatus.WARNING
    assert "cannot read msdb's backup history" in verdict.message and "(229)" in verdict.message
    assert "GRANT SELECT ON dbo.backupset TO [ops]]team];" in verdict.advice
    assert verdict.details["history_readable"] is False


def test_a_hostile_name_or_software_cannot_escape_the_fix_comments():
    name = "x]\n--y'"
    verdict, _ = run([database_row(name)], [group(name, "u\nDROP DATABASE z", "s'--")])
    assert all(line.startswith("-- ") for line in verdict.affected[0].fix.splitlines())
    assert "[x]] --y']" in verdict.affected[0].fix


def test_a_dropped_connection_is_an_error():
    verdict, _ = run([database_row("sales")], SqlError("dropped", "the connection was closed while reading"))
    assert verdict.status is ItemStatus.ERROR


# --- through the real driver against the emulator ----------------------------------------------------------

PASSWORD = "Emu-Pa55-word"


def emulated(emulator, settings=None, password=PASSWORD):
    instance = fake_instance(server=f"127.0.0.1,{emulator.port}", settings=settings or ItemSettings())
    request = CheckRequest(run_id="r1", instance=instance, item="log_chain", deadline=time.time() + 60)
    return run_check(log_chain.ITEM, request,
                     probes(sql=PyodbcConnector(), secrets=FakeSecrets({"env:SQL_PASSWORD": password})))


def catalog(login=None):
    now = datetime.now()
    return {"logins": [{"name": "backup", "password": PASSWORD, **(login or {"sysadmin": True})}],
            "databases": [{"name": "sales"}, {"name": "hr"}],
            "backups": [
                {"database_name": "sales", "type": "L", "user_name": "NT SERVICE\\SQLSERVERAGENT",
                 "software_name": "Microsoft SQL Server", "backup_finish_date": (now - timedelta(days=1)).isoformat()},
                {"database_name": "sales", "type": "L", "is_copy_only": True, "user_name": "dba",
                 "backup_finish_date": (now - timedelta(hours=1)).isoformat()},
                {"database_name": "hr", "type": "L", "user_name": "hbr", "software_name": "HBR",
                 "backup_finish_date": (now - timedelta(hours=2)).isoformat()},
                {"database_name": "hr", "type": "L", "user_name": "old-tool",
                 "backup_finish_date": (now - timedelta(days=30)).isoformat()},
                {"database_name": "hr", "type": "D", "user_name": "other",
                 "backup_finish_date": (now - timedelta(hours=3)).isoformat()}]}


@pytest.mark.emulator
def test_emulated_other_tools_log_backups_are_named(sqlserver_emulator):
    """Only sales's agent log backup counts: not the copy-only one, not hr's by the identity, not the one a
    month old, not a full backup."""
    emulator = sqlserver_emulator(catalog())
    outcome = emulated(emulator, ItemSettings(backup_identities=["HBR"]))
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert outcome.code == "SQL_SERVER_LOG_CHAIN_BROKEN_BY_OTHER_BACKUPS"
    assert [db.name for db in outcome.affected] == ["sales"]
    assert "1 log backup(s) by 'Microsoft SQL Server' as 'NT SERVICE\\SQLSERVERAGENT'" in outcome.affected[0].reason


@pytest.mark.emulator
def test_emulated_identities_that_cover_every_taker_pass(sqlserver_emulator):
    emulator = sqlserver_emulator(catalog())
    outcome = emulated(emulator, ItemSettings(backup_identities=["HBR", "Microsoft SQL Server"]))
    assert outcome.status is ItemStatus.PASSED, outcome.message


@pytest.mark.emulator
def test_emulated_login_without_msdb_select_is_warned_with_the_grants(sqlserver_emulator):
    emulator = sqlserver_emulator(catalog({"permissions": ["CREATE ANY DATABASE"]}))
    outcome = emulated(emulator)
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert "SELECT permission was denied on the object 'backupset', database 'msdb'" in outcome.message
    assert "GRANT SELECT ON dbo.backupmediaset TO [backup];" in outcome.advice
    reader = sqlserver_emulator(catalog({"permissions": ["CREATE ANY DATABASE"],
                                         "database_roles": {"msdb": ["db_datareader"]}}))
    assert emulated(reader).status is ItemStatus.WARNING  # now the finding itself (no identity configured)
    assert emulated(reader).affected != []


@pytest.mark.emulator
def test_emulated_login_failure_is_an_error(sqlserver_emulator):
    outcome = emulated(sqlserver_emulator(catalog()), password="Wrong-Pa55-word")
    assert outcome.status is ItemStatus.ERROR and outcome.details["reason"] == "login"
    assert "Wrong-Pa55-word" not in outcome.model_dump_json()


# --- the value classes: written by hand (issue 16's cold start), they behave as the frozen dataclasses they were --

def test_taker_and_history_behave_as_frozen_dataclasses():
    taker = log_chain.Taker("sales", "sa", "Microsoft SQL Server", datetime(2026, 11, 1), 3)
    assert taker == log_chain.Taker(database="sales", user="sa", software="Microsoft SQL Server",
                                    latest=datetime(2026, 11, 1), backups=3)
    assert hash(taker) == hash(copy.copy(taker)) and taker != log_chain.Taker("sales", "sa", "x", None, 3)
    assert repr(taker) == ("Taker(database='sales', user='sa', software='Microsoft SQL Server', "
                           "latest=datetime.datetime(2026, 11, 1, 0, 0), backups=3)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        taker.backups = 4  # type: ignore[misc]
    history = log_chain.History([taker])
    assert history.unreadable is None and repr(history) == f"History(takers=[{taker!r}], unreadable=None)"
    assert pickle.loads(pickle.dumps(history)) == history != log_chain.History([taker], "denied")
