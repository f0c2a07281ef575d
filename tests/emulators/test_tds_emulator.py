"""The TDS emulator, driven through real clients: pyodbc -> unixODBC -> FreeTDS, tsql, and python-tds."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pyodbc
import pytds
import pytest

from tds_emulator import Catalog, CatalogError, Faults, SqlServerEmulator
from tests.fixtures.sqlserver import odbc_connection_string

pytestmark = pytest.mark.emulator

USER, PASSWORD = "backup", "S3cret;pw="
HOSTILE_NAMES = ["a]b", "O'Brien", "semi;colon", "x ", "销售数据", "N" * 128, "名" * 128, "[br]ackets\"q",
                 "emoji😀db"]
PRODUCT_QUERIES = {
    "databases": "SELECT name, state_desc, recovery_model_desc FROM sys.databases",
    "permission": "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DATABASE') AS can_view_all",
    "version": "SELECT CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(128)) AS version",
}


def catalog(**extra):
    base = {
        "version": "15.0.4153.1",
        "logins": [{"name": USER, "password": PASSWORD, "sysadmin": True}],
        "databases": [{"name": "sales", "recovery_model": "FULL"},
                      {"name": "hr", "state": "OFFLINE", "recovery_model": "SIMPLE"}],
    }
    base.update(extra)
    return base


def connect(emulator, user=USER, password=PASSWORD, timeout=5, autocommit=True):
    return pyodbc.connect(odbc_connection_string(emulator, user, password), timeout=timeout, autocommit=autocommit)


def pytds_connect(emulator, user=USER, password=PASSWORD, **kwargs):
    return pytds.connect(dsn=emulator.host, port=emulator.port, user=user, password=password, login_timeout=5,
                         timeout=5, autocommit=True, **kwargs)


def tsql(emulator, batch, user=USER, password=PASSWORD):
    return subprocess.run(["tsql", "-H", emulator.host, "-p", str(emulator.port), "-U", user, "-P", password],
                          input=f"{batch}\ngo\nexit\n", capture_output=True, text=True, timeout=20)


# ---- pyodbc / FreeTDS ---------------------------------------------------------------------------------------
def test_pyodbc_runs_the_product_queries_verbatim(sqlserver_emulator):
    """The three queries the product sends come back with SQL Server's defaults and the catalog's rows."""
    emulator = sqlserver_emulator(catalog())
    with connect(emulator) as cnxn:
        rows = cnxn.execute(PRODUCT_QUERIES["databases"]).fetchall()
        assert [tuple(r) for r in rows] == [
            ("master", "ONLINE", "SIMPLE"), ("tempdb", "ONLINE", "SIMPLE"), ("model", "ONLINE", "FULL"),
            ("msdb", "ONLINE", "SIMPLE"), ("sales", "ONLINE", "FULL"), ("hr", "OFFLINE", "SIMPLE")]
        cursor = cnxn.execute(PRODUCT_QUERIES["permission"])
        assert cursor.description[0][0] == "can_view_all"
        assert cursor.fetchall()[0][0] == 1
        assert cnxn.execute(PRODUCT_QUERIES["version"]).fetchval() == "15.0.4153.1"


def test_pyodbc_gets_sql_server_types(sqlserver_emulator):
    """INT, BIGINT, TINYINT, BIT, DATETIME and NULL columns arrive as the matching Python types."""
    emulator = sqlserver_emulator(catalog(databases=[{"name": "sales", "is_read_only": True,
                                                      "create_date": "2021-03-04T05:06:07.123"}]))
    with connect(emulator) as cnxn:
        row = cnxn.execute("SELECT database_id, CAST(database_id AS BIGINT) AS big, state, is_read_only, "
                           "create_date, NULL AS nothing FROM sys.databases WHERE name = 'SALES'").fetchone()
    assert tuple(row) == (5, 5, 0, True, datetime.datetime(2021, 3, 4, 5, 6, 7, 123000), None)
    assert [type(v) for v in row][:4] == [int, int, int, bool]


def test_pyodbc_parameterised_query_finds_each_hostile_name(sqlserver_emulator):
    """`WHERE name = ?` (FreeTDS sends sp_prepexec, then sp_execute) matches each hostile name exactly."""
    emulator = sqlserver_emulator(catalog(databases=[{"name": n} for n in HOSTILE_NAMES]))
    with connect(emulator) as cnxn:
        cursor = cnxn.cursor()
        for name in HOSTILE_NAMES:
            assert cursor.execute("SELECT name FROM sys.databases WHERE name = ?", name).fetchall()[0][0] == name
        assert cursor.execute("SELECT name FROM sys.databases WHERE name = ?", "absent").fetchall() == []


def test_hostile_names_round_trip_byte_exact(sqlserver_emulator):
    """Quotes, brackets, semicolons, a trailing space, CJK, emoji and 128-character names come back unchanged."""
    emulator = sqlserver_emulator(catalog(databases=[{"name": n} for n in HOSTILE_NAMES]))
    with connect(emulator) as cnxn:
        names = [r[0] for r in cnxn.execute("SELECT name FROM sys.databases WHERE database_id > 4")]
    assert names == HOSTILE_NAMES
    with pytds_connect(emulator) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sys.databases WHERE database_id > 4")
        assert [r[0] for r in cursor.fetchall()] == HOSTILE_NAMES


@pytest.mark.parametrize("user, password", [(USER, "wrong"), ("nobody", PASSWORD)])
def test_pyodbc_login_failure_is_18456(sqlserver_emulator, user, password):
    """A wrong password or unknown login fails with native error 18456 (SQLSTATE 42000)."""
    emulator = sqlserver_emulator(catalog())
    with pytest.raises(pyodbc.ProgrammingError) as failure:
        connect(emulator, user=user, password=password)
    assert failure.value.args[0] == "42000"
    assert f"Login failed for user '{user}'. (18456)" in failure.value.args[1]


def test_pyodbc_errors_carry_sql_server_numbers(sqlserver_emulator):
    """An unknown table raises error 208, bad syntax 102, and the connection stays usable afterwards."""
    emulator = sqlserver_emulator(catalog())
    with connect(emulator) as cnxn:
        with pytest.raises(pyodbc.ProgrammingError, match=r"Invalid object name 'sys\.nothing'\. \(208\)"):
            cnxn.execute("SELECT name FROM sys.nothing")
        with pytest.raises(pyodbc.ProgrammingError, match=r"\(102\)"):
            cnxn.execute("SELECT name FROM sys.databases WHERE")
        assert cnxn.execute("SELECT COUNT(*) FROM sys.databases").fetchval() == 6


def test_pyodbc_without_autocommit_uses_transaction_requests(sqlserver_emulator):
    """With autocommit off, FreeTDS's begin/commit/rollback requests are answered and queries still work."""
    emulator = sqlserver_emulator(catalog())
    cnxn = connect(emulator, autocommit=False)
    assert cnxn.execute("SELECT @@TRANCOUNT").fetchval() == 1
    cnxn.commit()
    assert cnxn.execute("SELECT name FROM sys.databases WHERE database_id = 5").fetchval() == "sales"
    cnxn.rollback()
    cnxn.close()


def test_recovery_status_backup_history_and_long_text(sqlserver_emulator):
    """last_log_backup_lsn (NUMERIC), msdb.dbo.backupset and an NVARCHAR(MAX) column read through pyodbc."""
    emulator = sqlserver_emulator(catalog(
        databases=[{"name": "sales", "last_log_backup_lsn": 36000000012300001}, {"name": "pseudo"}],
        backups=[{"database_name": "sales", "type": "L", "is_copy_only": False, "software_name": "Other"}]))
    with connect(emulator) as cnxn:
        lsns = cnxn.execute("SELECT d.name, r.last_log_backup_lsn FROM sys.databases d JOIN "
                            "sys.database_recovery_status r ON r.database_id = d.database_id "
                            "WHERE d.database_id > 4").fetchall()
        history = cnxn.execute("SELECT b.database_name, b.type, m.software_name FROM msdb.dbo.backupset b JOIN "
                               "msdb.dbo.backupmediaset m ON m.media_set_id = b.media_set_id").fetchall()
        long_text = cnxn.execute("SELECT CAST(REPLICATE(N'名', 5000) AS NVARCHAR(MAX))").fetchval()
    assert [tuple(r) for r in lsns] == [("sales", 36000000012300001), ("pseudo", None)]
    assert [tuple(r) for r in history] == [("sales", "L", "Other")]
    assert long_text == "名" * 5000


def test_request_spanning_several_packets(sqlserver_emulator):
    """A parameterised query with 500 parameters (many 4 KB packets) is reassembled and answered."""
    emulator = sqlserver_emulator(catalog())
    sql = "SELECT name FROM sys.databases WHERE name IN (" + ",".join("?" * 500) + ")"
    with connect(emulator) as cnxn:
        rows = cnxn.execute(sql, "msdb", *(["z" * 128] * 499)).fetchall()
    assert [r[0] for r in rows] == ["msdb"]


def test_32767_databases_are_read_completely(sqlserver_emulator):
    """An instance at SQL Server's limit of 32,767 databases with 128-character names streams whole, every row
    in catalog order with its recovery model. (How fast is bench/huge_instance.py's figure, not a test's.)"""
    names = [f"{i:05d}" + "库" * 123 for i in range(32767 - 4)]
    emulator = sqlserver_emulator(catalog(databases=[{"name": n, "recovery_model": "SIMPLE"} for n in names]))
    with connect(emulator) as cnxn:
        rows = cnxn.execute(PRODUCT_QUERIES["databases"]).fetchall()
    assert len(rows) == 32767
    assert [r[0] for r in rows[4:]] == names
    assert {r[2] for r in rows[4:]} == {"SIMPLE"}


def test_login_without_view_any_database_sees_only_its_own(sqlserver_emulator):
    """Without VIEW ANY DATABASE a login sees master, tempdb and what it owns, and HAS_PERMS_BY_NAME says 0."""
    emulator = sqlserver_emulator(catalog(
        logins=[{"name": "limited", "password": "pw", "view_any_database": False}],
        databases=[{"name": "sales"}, {"name": "mine", "owner": "limited"}]))
    with connect(emulator, user="limited", password="pw") as cnxn:
        names = [r[0] for r in cnxn.execute(PRODUCT_QUERIES["databases"])]
        can_view_all = cnxn.execute(PRODUCT_QUERIES["permission"]).fetchval()
    assert names == ["master", "tempdb", "mine"]
    assert can_view_all == 0


VISIBILITY = ("SELECT IS_SRVROLEMEMBER('sysadmin') AS sa, HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DATABASE') AS v, "
              "HAS_PERMS_BY_NAME(NULL, NULL, 'ALTER ANY DATABASE') AS a, "
              "HAS_PERMS_BY_NAME(NULL, NULL, 'CREATE ANY DATABASE') AS c, "
              "HAS_PERMS_BY_NAME('master', 'DATABASE', 'CREATE DATABASE') AS m")
OFFLINE_CATALOG = [{"name": "sales"}, {"name": "hr", "state": "OFFLINE"}, {"name": "mine", "owner": "low"},
                   {"name": "mine_off", "state": "OFFLINE", "owner": "low"}]


def sees(emulator, login: dict) -> tuple[list[str], tuple]:
    """(the names `login` sees in sys.databases, its (sysadmin, VIEW ANY, ALTER ANY, CREATE ANY, CREATE
    DATABASE in master) answers), through pyodbc."""
    with connect(emulator, user=login["name"], password="pw") as cnxn:
        names = [r[0] for r in cnxn.execute(PRODUCT_QUERIES["databases"])]
        rights = tuple(cnxn.execute(VISIBILITY).fetchone())
    return names, rights


@pytest.mark.parametrize("login, names, rights", [
    # sysadmin: everything
    ({"sysadmin": True}, ["master", "tempdb", "model", "msdb", "sales", "hr", "mine", "mine_off"], (1, 1, 1, 1, 1)),
    # VIEW ANY DATABASE only (public's default): every database except the OFFLINE ones
    ({}, ["master", "tempdb", "model", "msdb", "sales", "mine"], (0, 1, 0, 0, 0)),
    # CREATE ANY DATABASE makes the OFFLINE rows visible, and implies CREATE DATABASE in master
    ({"permissions": ["CREATE ANY DATABASE"]},
     ["master", "tempdb", "model", "msdb", "sales", "hr", "mine", "mine_off"], (0, 1, 0, 1, 1)),
    # ALTER ANY DATABASE implies CREATE ANY DATABASE
    ({"permissions": ["ALTER ANY DATABASE"]},
     ["master", "tempdb", "model", "msdb", "sales", "hr", "mine", "mine_off"], (0, 1, 1, 1, 1)),
    # CREATE DATABASE in master does too, without implying the server permissions
    ({"permissions": ["create   database"]},
     ["master", "tempdb", "model", "msdb", "sales", "hr", "mine", "mine_off"], (0, 1, 0, 0, 1)),
    # CONTROL SERVER implies ALTER ANY DATABASE
    ({"permissions": ["CONTROL SERVER"]},
     ["master", "tempdb", "model", "msdb", "sales", "hr", "mine", "mine_off"], (0, 1, 1, 1, 1)),
    # an unrelated permission changes nothing
    ({"permissions": ["VIEW SERVER STATE"]}, ["master", "tempdb", "model", "msdb", "sales", "mine"], (0, 1, 0, 0, 0)),
    # no VIEW ANY DATABASE: master, tempdb and its own, and an own OFFLINE one only with CREATE ANY DATABASE
    ({"view_any_database": False}, ["master", "tempdb", "mine"], (0, 0, 0, 0, 0)),
    ({"view_any_database": False, "permissions": ["CREATE ANY DATABASE"]},
     ["master", "tempdb", "mine", "mine_off"], (0, 0, 0, 1, 1)),
], ids=["sysadmin", "view-any-only", "create-any", "alter-any", "create-database-in-master", "control-server",
        "view-server-state", "no-view-any", "no-view-any-create-any"])
def test_sys_databases_shows_offline_rows_only_to_logins_that_may_see_them(sqlserver_emulator, login, names,
                                                                          rights):
    """sys.databases hides OFFLINE rows from low-privileged logins (ALTER ANY DATABASE, CREATE ANY DATABASE or
    CREATE DATABASE in master show them), and HAS_PERMS_BY_NAME / IS_SRVROLEMEMBER answer from the login."""
    emulator = sqlserver_emulator(catalog(logins=[{"name": "low", "password": "pw", **login}],
                                          databases=OFFLINE_CATALOG))
    assert sees(emulator, {"name": "low"}) == (names, rights)


def test_sys_database_recovery_status_follows_the_same_visibility(sqlserver_emulator):
    """The views derived from sys.databases hide the same rows."""
    emulator = sqlserver_emulator(catalog(logins=[{"name": "low", "password": "pw"}], databases=OFFLINE_CATALOG))
    with connect(emulator, user="low", password="pw") as cnxn:
        ids = [r[0] for r in cnxn.execute("SELECT database_id FROM sys.database_recovery_status ORDER BY 1")]
    assert ids == [1, 2, 3, 4, 5, 7]


@pytest.mark.parametrize("permissions, message", [
    (["ALTER ANY DATABSE"], "unknown permission(s) ALTER ANY DATABSE"),
    (["VIEW ANY DATABASE"], "VIEW ANY DATABASE is set with view_any_database"),
    ("CREATE ANY DATABASE", "must be a list"),
])
def test_unknown_permission_names_are_rejected(permissions, message):
    """A misspelt permission is a CatalogError, not a login that silently lacks it."""
    with pytest.raises(CatalogError, match=re.escape(message)):
        Catalog.from_dict(catalog(logins=[{"name": "low", "password": "pw", "permissions": permissions}]))


# ---- fault modes ----------------------------------------------------------------------------------------------
def test_silent_server_times_out_with_hyt00(sqlserver_emulator):
    """A server that accepts and never answers makes pyodbc fail with HYT00 at its timeout, not hang."""
    emulator = sqlserver_emulator(catalog(faults={"silent": True}))
    started = time.monotonic()
    with pytest.raises(pyodbc.OperationalError) as failure:
        connect(emulator, timeout=1)
    assert failure.value.args[0] == "HYT00"
    assert time.monotonic() - started < 1 * 10  # a guard against a hang, ten times the timeout


@pytest.mark.parametrize("drop", [True, 3])
def test_connection_dropped_mid_result_is_an_error(sqlserver_emulator, drop):
    """Closing the connection in the middle of a result set raises a driver error promptly."""
    emulator = sqlserver_emulator(catalog(faults={"drop_mid_result": drop}))
    cnxn = connect(emulator)
    started = time.monotonic()
    with pytest.raises(pyodbc.Error):
        cnxn.execute(PRODUCT_QUERIES["databases"]).fetchall()
    assert time.monotonic() - started < 30  # a guard against a hang (no query timeout is set)


def test_drop_after_n_rows_spares_smaller_results(sqlserver_emulator):
    """With drop_mid_result=N, results of N rows or fewer are answered completely."""
    emulator = sqlserver_emulator(catalog(faults={"drop_mid_result": 3}))
    with connect(emulator) as cnxn:
        assert cnxn.execute(PRODUCT_QUERIES["version"]).fetchval() == "15.0.4153.1"


def test_query_timeout_sends_attention_and_connection_survives(sqlserver_emulator):
    """A delayed query hits pyodbc's 1 s query timeout (HYT00); the cancel is honoured and the connection works."""
    emulator = sqlserver_emulator(catalog(faults={"query_delay_ms": 5000}))
    cnxn = connect(emulator)
    cnxn.timeout = 1
    started = time.monotonic()
    with pytest.raises(pyodbc.OperationalError) as failure:
        cnxn.execute(PRODUCT_QUERIES["databases"]).fetchall()
    assert failure.value.args[0] == "HYT00"
    assert time.monotonic() - started < 1 * 10  # a guard: the delay is 5 s, the timeout 1 s
    emulator.faults = Faults()
    assert cnxn.execute(PRODUCT_QUERIES["version"]).fetchval() == "15.0.4153.1"
    cnxn.close()


def test_query_delay_delays_the_answer(sqlserver_emulator):
    """query_delay_ms holds every answer back by that long, then answers normally."""
    emulator = sqlserver_emulator(catalog(faults={"query_delay_ms": 300}))
    with pytds_connect(emulator) as conn, conn.cursor() as cursor:
        started = time.monotonic()
        cursor.execute(PRODUCT_QUERIES["version"])
        assert cursor.fetchone()[0] == "15.0.4153.1"
        assert time.monotonic() - started >= 0.3


def test_pytds_timeout_cancels_and_connection_survives(sqlserver_emulator):
    """python-tds's timeout sends ATTENTION; the DONE(ATTN) answer keeps its connection usable."""
    emulator = sqlserver_emulator(catalog(faults={"query_delay_ms": 5000}))
    conn = pytds.connect(dsn=emulator.host, port=emulator.port, user=USER, password=PASSWORD, login_timeout=5,
                         timeout=1, autocommit=True)
    with pytest.raises(Exception, match="timed out"):
        conn.cursor().execute("SELECT 1")
    emulator.faults = Faults()
    cursor = conn.cursor()
    cursor.execute("SELECT 2")
    assert cursor.fetchone()[0] == 2
    conn.close()


def test_stop_is_prompt_with_a_connected_silent_client(sqlserver_emulator):
    """stop() returns quickly even while a client is connected to a silent server."""
    emulator = sqlserver_emulator(catalog(faults={"silent": True}))
    client = socket.create_connection((emulator.host, emulator.port), timeout=2)
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 15  # a guard against stop() waiting on the silent connection
    client.settimeout(2)
    assert client.recv(10) == b""
    client.close()


# ---- other clients ------------------------------------------------------------------------------------------
def test_pytds_reads_catalog_and_binds_parameters(sqlserver_emulator):
    """python-tds logs in, reads sys.databases and runs a parameterised query (sp_executesql)."""
    emulator = sqlserver_emulator(catalog(databases=[{"name": "销售数据"}]))
    with pytds_connect(emulator) as conn, conn.cursor() as cursor:
        cursor.execute(PRODUCT_QUERIES["databases"])
        assert ("销售数据", "ONLINE", "FULL") in [tuple(r) for r in cursor.fetchall()]
        cursor.execute("SELECT name, database_id FROM sys.databases WHERE name = %s", ("销售数据",))
        assert cursor.fetchall() == [("销售数据", 5)]


def test_pytds_wrong_password_is_18456(sqlserver_emulator):
    """python-tds reports a failed login as error number 18456."""
    emulator = sqlserver_emulator(catalog())
    with pytest.raises(pytds.OperationalError) as failure:
        pytds_connect(emulator, password="wrong")
    assert failure.value.number == 18456


def test_tsql_reads_catalog(sqlserver_emulator):
    """FreeTDS's tsql logs in and prints sys.databases."""
    emulator = sqlserver_emulator(catalog())
    result = tsql(emulator, "SELECT name, recovery_model_desc FROM sys.databases WHERE database_id > 4")
    assert result.returncode == 0, result.stderr
    assert "sales\tFULL" in result.stdout and "hr\tSIMPLE" in result.stdout
    assert "(2 rows affected)" in result.stdout


def test_tsql_wrong_password_is_18456(sqlserver_emulator):
    """tsql reports Msg 18456 for a wrong password and exits non-zero."""
    emulator = sqlserver_emulator(catalog())
    result = tsql(emulator, "SELECT 1", password="wrong")
    assert result.returncode != 0
    assert "Msg 18456" in result.stdout + result.stderr


def test_tds5_login_is_closed(sqlserver_emulator):
    """A TDS 5.0 login packet (type 0x02) makes the emulator close the connection."""
    emulator = sqlserver_emulator(catalog())
    with socket.create_connection((emulator.host, emulator.port), timeout=2) as client:
        client.sendall(struct.pack(">BBHHBB", 0x02, 0x01, 8 + 16, 0, 1, 0) + bytes(16))
        assert client.recv(100) == b""


# ---- catalog and CLI --------------------------------------------------------------------------------------------
def test_catalog_defaults_system_databases_and_ids():
    """master/tempdb/model/msdb get ids 1-4 and SQL Server's recovery models; user databases start at 5."""
    loaded = Catalog.from_dict({"databases": [{"name": "b"}, {"name": "model", "recovery_model": "SIMPLE"}]})
    assert [(d.name, d.database_id, d.recovery_model) for d in loaded.databases] == [
        ("master", 1, "SIMPLE"), ("tempdb", 2, "SIMPLE"), ("model", 3, "SIMPLE"), ("msdb", 4, "SIMPLE"),
        ("b", 5, "FULL")]


@pytest.mark.parametrize("raw", [{"databases": [{"name": "x", "state": "ASLEEP"}]},
                                 {"databases": [{"name": "x"}, {"name": "X"}]},
                                 {"databases": [{"name": "n" * 129}]},
                                 {"faults": {"explode": True}}])
def test_catalog_rejects_invalid_input(raw):
    """Unknown states, duplicate or over-long names and unknown faults are rejected."""
    with pytest.raises(CatalogError):
        Catalog.from_dict(raw)


def test_cli_starts_on_port_zero_serves_and_stops_on_sigterm(tmp_path: Path):
    """`python -m tds_emulator --port 0` prints its port, answers a query and exits 0 on SIGTERM."""
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(catalog()), encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "tds_emulator", "--port", "0", "--catalog", str(catalog_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        with pytds.connect(dsn="127.0.0.1", port=port, user=USER, password=PASSWORD, login_timeout=5, timeout=5,
                           autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(PRODUCT_QUERIES["version"])
            assert cursor.fetchone()[0] == "15.0.4153.1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_context_manager_frees_the_port():
    """Leaving the `with` block stops the emulator: its port refuses connections."""
    with SqlServerEmulator(catalog()) as emulator:
        port = emulator.port
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
