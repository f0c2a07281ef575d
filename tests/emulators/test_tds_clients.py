"""The TDS emulator through Microsoft's own Python driver, mssql-python (which bundles Microsoft ODBC Driver 18),
side by side with pyodbc/FreeTDS: the product's queries give the same rows, errors carry SQL Server's numbers.

Every test takes ``encrypt``, the driver's ``Encrypt=`` keyword; only ``no`` is exercised here (the emulator
answers PRELOGIN without TLS), and the TLS variants join ``ENCRYPT`` when the emulator speaks TLS.
"""

from __future__ import annotations

import mssql_python
import pyodbc
import pytest

from precheck.checks._sql import DATABASES_SQL, VISIBILITY_SQL
from tests.emulators.test_tds_emulator import HOSTILE_NAMES, PASSWORD, USER, catalog, connect

pytestmark = pytest.mark.emulator

ENCRYPT = [pytest.param("no", id="encrypt-no")]


def connection_string(emulator, user: str, password: str, encrypt: str) -> str:
    """mssql-python's connection string: its keywords are allow-listed (``Server=host,port``, no ``Port=``);
    a value in braces with ``}`` doubled, as ODBC quotes it."""
    quoted = password.replace("}", "}}")
    return f"Server={emulator.host},{emulator.port};UID={user};PWD={{{quoted}}};Encrypt={encrypt}"


def mssql_connect(emulator, encrypt: str, user: str = USER, password: str = PASSWORD, **kwargs):
    return mssql_python.connect(connection_string(emulator, user, password, encrypt), timeout=5, **kwargs)


def odbc18_connect(emulator, encrypt: str, user: str, password: str):
    """pyodbc over the very ODBC Driver 18 that mssql-python loads: it reports the native error number, which
    mssql-python's exceptions leave out."""
    driver = mssql_python.get_native_provider_info()["driver_path"]
    quoted = password.replace("}", "}}")
    return pyodbc.connect(f"DRIVER={{{driver}}};SERVER={emulator.host},{emulator.port};UID={user};"
                          f"PWD={{{quoted}}};Encrypt={encrypt}", timeout=5, autocommit=True)


def rows(cursor, sql: str, *params) -> list[tuple]:
    cursor.execute(sql, *params)
    return [tuple(row) for row in cursor.fetchall()]


@pytest.mark.parametrize("encrypt", ENCRYPT)
@pytest.mark.parametrize("login", [{"sysadmin": True}, {}, {"permissions": ["CREATE ANY DATABASE"]}],
                         ids=["sysadmin", "view-any-only", "create-any"])
def test_mssql_python_reads_the_product_queries_like_freetds(sqlserver_emulator, encrypt, login):
    """DATABASES_SQL and VISIBILITY_SQL answer mssql-python with the rows pyodbc/FreeTDS gets, for logins that
    see every database and for one that does not see the OFFLINE one."""
    emulator = sqlserver_emulator(catalog(logins=[{"name": "low", "password": "pw", **login}]))
    with connect(emulator, user="low", password="pw") as cnxn:
        expected = [rows(cnxn.cursor(), DATABASES_SQL), rows(cnxn.cursor(), VISIBILITY_SQL)]
    conn = mssql_connect(emulator, encrypt, user="low", password="pw", autocommit=True)
    try:
        cursor = conn.cursor()
        assert [rows(cursor, DATABASES_SQL), rows(cursor, VISIBILITY_SQL)] == expected
        assert [d[0] for d in cursor.description] == ["is_sysadmin", "view_any_database", "alter_any_database",
                                                      "create_database"]
    finally:
        conn.close()
    assert ("hr" in [r[0] for r in expected[0]]) == bool(login)  # the OFFLINE one only for who may see it


@pytest.mark.parametrize("encrypt", ENCRYPT)
def test_mssql_python_binds_parameters_and_keeps_names_byte_exact(sqlserver_emulator, encrypt):
    """A parameterised query (sp_prepexec from ODBC Driver 18) finds each hostile name; names come back unchanged;
    the driver's default (autocommit off: transaction-manager requests) works."""
    emulator = sqlserver_emulator(catalog(databases=[{"name": n} for n in HOSTILE_NAMES]))
    conn = mssql_connect(emulator, encrypt)
    try:
        cursor = conn.cursor()
        assert [r[0] for r in rows(cursor, "SELECT name FROM sys.databases WHERE database_id > 4")] == HOSTILE_NAMES
        for name in HOSTILE_NAMES:
            assert rows(cursor, "SELECT name FROM sys.databases WHERE name = ?", name) == [(name,)]
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("encrypt", ENCRYPT)
def test_mssql_python_wrong_password_is_18456(sqlserver_emulator, encrypt):
    """A wrong password fails the login: mssql-python raises OperationalError (SQLSTATE 28000) saying "Login failed
    for user", and the same ODBC Driver 18 reports native error 18456."""
    emulator = sqlserver_emulator(catalog())
    with pytest.raises(mssql_python.OperationalError, match=rf"Login failed for user '{USER}'\."):
        mssql_connect(emulator, encrypt, password="wrong")
    with pytest.raises(pyodbc.Error) as failure:
        odbc18_connect(emulator, encrypt, USER, "wrong")
    assert failure.value.args[0] == "28000"
    assert f"[SQL Server]Login failed for user '{USER}'. (18456)" in failure.value.args[1]


@pytest.mark.parametrize("encrypt", ENCRYPT)
def test_mssql_python_gets_sql_servers_errors(sqlserver_emulator, encrypt):
    """An unknown column is 207 and an unknown object 208 through ODBC Driver 18 too, and the connection
    stays usable; a missing default database is 4064."""
    emulator = sqlserver_emulator(catalog(logins=[{"name": USER, "password": PASSWORD, "sysadmin": True},
                                                  {"name": "lost", "password": "pw", "default_database": "gone"}]))
    conn = mssql_connect(emulator, encrypt, autocommit=True)
    try:
        cursor = conn.cursor()
        with pytest.raises(mssql_python.ProgrammingError, match=r"Invalid column name 'nosuchcol'\."):
            cursor.execute("SELECT nosuchcol FROM sys.databases")
        with pytest.raises(mssql_python.ProgrammingError, match=r"Invalid object name 'sys\.nothing'\."):
            cursor.execute("SELECT name FROM sys.nothing")
        assert rows(cursor, "SELECT COUNT(*) FROM sys.databases") == [(6,)]
    finally:
        conn.close()
    with pytest.raises(pyodbc.Error, match=r"Cannot open user default database\. Login failed\. \(4064\)"):
        odbc18_connect(emulator, encrypt, "lost", "pw")
