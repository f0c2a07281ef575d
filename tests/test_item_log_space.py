"""log_space: logs nearly full (settings.log_space_percent) or held by what a log backup does not clear. The pure
logic through a fake session, then end to end through the real driver (pyodbc -> FreeTDS) against the emulator."""

from __future__ import annotations

import dataclasses
import time

import pytest

from precheck.adapters.sqlserver import PyodbcConnector
from precheck.checks import log_space
from precheck.models import CheckRequest, ItemSettings, ItemStatus
from precheck.ports import SqlError
from precheck.runner import run_check
from tests.fakes import VIEW_SERVER_STATE_DENIED, FakeSecrets, FakeSession, FakeSql, context, database_row, probes
from tests.fakes import instance as fake_instance

SYSTEM = [database_row("master", model="SIMPLE"), database_row("tempdb", model="SIMPLE"),
          database_row("model"), database_row("msdb", model="SIMPLE")]


def counters(usage):
    """COUNTERS_SQL's rows for {name: (size_kb, used_kb)}."""
    return [{"name": name, "size_kb": size, "used_kb": used} for name, (size, used) in usage.items()]


class LogSession(FakeSession):
    def __init__(self, databases, waits, usage, **kwargs):
        super().__init__(SYSTEM + databases, **kwargs)
        self.waits, self.usage = waits, usage

    def query(self, sql, params=()):
        if sql == log_space.REUSE_SQL:
            return [{"name": name, "log_reuse_wait_desc": wait} for name, wait in self.waits.items()
                    if wait != "NOTHING"]
        if sql == log_space.COUNTERS_SQL:
            if isinstance(self.usage, Exception):
                raise self.usage
            base = {row["name"]: (8192, 800) for row in self.databases if row["state_desc"] == "ONLINE"}
            return counters({**base, **self.usage})
        return super().query(sql, params)


def run(databases, waits=None, usage=None, settings=None, user="backup"):
    session = LogSession(databases, waits or {}, usage if usage is not None else {})
    return log_space.ITEM.run(context(probes(sql=FakeSql(session)), user=user,
                                      settings=settings or ItemSettings()))


def test_a_nearly_full_log_is_named_with_its_use():
    verdict = run([database_row("sales"), database_row("hr")], usage={"sales": (102400, 97280)})
    assert verdict.status is ItemStatus.WARNING
    assert [(db.name, db.reason) for db in verdict.affected] == [
        ("sales", "log 95.0% used (95 of 100 MB), log_reuse_wait_desc NOTHING")]
    assert "error 9002" in verdict.advice and "over 90%" in verdict.message
    assert "sys.master_files WHERE database_id = DB_ID(N'sales')" in verdict.affected[0].fix


def test_the_threshold_is_the_instances():
    assert run([database_row("sales")], usage={"sales": (1000, 960)},
               settings=ItemSettings(log_space_percent=97)).status is ItemStatus.PASSED


def test_a_log_held_by_what_a_backup_does_not_clear_is_named_whatever_its_size():
    """ACTIVE_TRANSACTION and REPLICATION are named with what clears them; LOG_BACKUP (the next log backup
    clears it) and CHECKPOINT are not."""
    verdict = run([database_row(n) for n in ("tx", "repl", "logb", "ckpt")],
                  waits={"tx": "ACTIVE_TRANSACTION", "repl": "REPLICATION", "logb": "LOG_BACKUP", "ckpt": "CHECKPOINT"})
    assert verdict.status is ItemStatus.WARNING
    assert sorted(db.name for db in verdict.affected) == ["repl", "tx"]
    assert "ACTIVE_TRANSACTION: an open or long-running transaction" in verdict.advice
    assert "Log Reader Agent" in verdict.advice and "9002" not in verdict.advice
    tx = next(db for db in verdict.affected if db.name == "tx")
    assert tx.fix.splitlines()[1] == "DBCC OPENTRAN (N'tx');  -- the oldest active transaction and its session"
    assert "USE " not in tx.fix  # a run's fix script goes on in the database it was in


def test_healthy_logs_pass():
    verdict = run([database_row("sales")], waits={"sales": "LOG_BACKUP"})
    assert verdict.status is ItemStatus.PASSED, verdict.message


def test_without_view_server_state_the_use_is_unknown_and_the_grant_given():
    """Error 300 on the counters: never PASSED; reuse waits still read; the GRANT names the login quoted."""
    verdict = run([database_row("sales")], usage=SqlError("query", VIEW_SERVER_STATE_DENIED), user="ops]team")
    assert verdict.status is ItemStatus.WARNING and verdict.affected == []
    assert "cannot read the log counters" in verdict.message
    assert "GRANT VIEW SERVER STATE TO [ops]]team];" in verdict.advice
    held = run([database_row("tx")], waits={"tx": "ACTIVE_TRANSACTION"},
               usage=SqlError("query", VIEW_SERVER_STATE_DENIED))
    assert [db.name for db in held.affected] == ["tx"]


def test_tempdb_and_offline_databases_are_left_out():
    verdict = run([database_row("off", "OFFLINE")], usage={"tempdb": (1000, 999)}, waits={"off": "REPLICATION"})
    assert verdict.status is ItemStatus.PASSED, verdict.message


def test_a_hostile_name_is_quoted_in_the_fix():
    name = "a]b'c--x"
    verdict = run([database_row(name)], waits={name: "AVAILABILITY_REPLICA"})
    fix = verdict.affected[0].fix
    assert "DB_ID(N'a]b''c--x')" in fix and fix.splitlines()[0].startswith("-- ")


def test_a_name_holding_a_line_break_gives_a_fix_of_comments_only():
    """Inside N'' a line of the name could still be read as `GO` by sqlcmd or SSMS: only comments."""
    name = "a]b'c\nGO\nDROP DATABASE y"
    verdict = run([database_row(name)], waits={name: "AVAILABILITY_REPLICA"})
    fix = verdict.affected[0].fix
    assert all(line.startswith("--") for line in fix.splitlines()) and "NOT RUNNABLE AS WRITTEN" in fix


# --- through the real driver against the emulator ----------------------------------------------------------

PASSWORD = "Emu-Pa55-word"


def emulated(emulator, password=PASSWORD):
    instance = fake_instance(server=f"127.0.0.1,{emulator.port}")
    request = CheckRequest(run_id="r1", instance=instance, item="log_space", deadline=time.time() + 60)
    return run_check(log_space.ITEM, request,
                     probes(sql=PyodbcConnector(), secrets=FakeSecrets({"env:SQL_PASSWORD": password})))


def catalog(databases, **login):
    return {"logins": [{"name": "backup", "password": PASSWORD, **(login or {"sysadmin": True})}],
            "databases": databases}


@pytest.mark.emulator
def test_emulated_full_and_held_logs_are_named(sqlserver_emulator):
    emulator = sqlserver_emulator(catalog([{"name": "sales", "log": {"size_mb": 1000, "used_percent": 96}},
                                           {"name": "tx", "log_reuse_wait_desc": "ACTIVE_TRANSACTION"},
                                           {"name": "fine", "log_reuse_wait_desc": "LOG_BACKUP"}]))
    outcome = emulated(emulator)
    assert outcome.status is ItemStatus.WARNING, outcome.message
    assert outcome.code == "SQL_SERVER_DB_LOG_NEARLY_FULL"
    assert {db.name: db.reason for db in outcome.affected} == {
        "sales": "log 96.0% used (960 of 1000 MB), log_reuse_wait_desc NOTHING",
        "tx": "log 10.0% used (1 of 8 MB), log_reuse_wait_desc ACTIVE_TRANSACTION"}


@pytest.mark.emulator
def test_emulated_healthy_logs_pass(sqlserver_emulator):
    emulator = sqlserver_emulator(catalog([{"name": "sales", "log": {"size_mb": 1000, "used_percent": 40}}]))
    assert emulated(emulator).status is ItemStatus.PASSED


@pytest.mark.emulator
def test_emulated_login_without_view_server_state_is_warned(sqlserver_emulator):
    emulator = sqlserver_emulator(catalog([{"name": "sales", "log": {"size_mb": 1000, "used_percent": 99}}],
                                          permissions=["CREATE ANY DATABASE"]))
    outcome = emulated(emulator)
    assert outcome.status is ItemStatus.WARNING and outcome.affected == []
    assert "VIEW SERVER STATE permission was denied" in outcome.message


@pytest.mark.emulator
def test_emulated_login_failure_is_an_error(sqlserver_emulator):
    outcome = emulated(sqlserver_emulator(catalog([{"name": "sales"}])), password="Wrong-Pa55-word")
    assert outcome.status is ItemStatus.ERROR and outcome.details["reason"] == "login"


# --- the value classes: written by hand (issue 16's cold start), they behave as the frozen dataclasses they were --

def test_log_use_and_reads_behave_as_frozen_dataclasses():
    use = log_space.LogUse(1024, 512)
    assert use == log_space.LogUse(size_kb=1024, used_kb=512) != log_space.LogUse(1024, 513)
    assert hash(use) == hash(log_space.LogUse(1024, 512)) and repr(use) == "LogUse(size_kb=1024, used_kb=512)"
    assert use.percent == 50.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        use.used_kb = 0  # type: ignore[misc]
    reads = log_space.LogReads({}, {"sales": use})
    assert reads.unreadable is None and reads == log_space.LogReads(waits={}, usage={"sales": use}, unreadable=None)
    assert repr(reads) == f"LogReads(waits={{}}, usage={{'sales': {use!r}}}, unreadable=None)"
