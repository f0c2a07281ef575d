"""T-SQL execution against an embedded SQLite: the emulator's query logic, free of any wire format.

One ``Engine`` per emulated instance; one ``Session`` per connection. A session owns a private in-memory
SQLite connection with an attached database per schema of ``system_tables.TABLES`` (``sys``, ``msdb``);
a table is created and filled (as the session's login may see it) the first time a query names it.
T-SQL is parsed with sqlglot, table names and SQL Server built-ins are rewritten, and the statement is
run as SQLite. Results come back as ``StatementResult`` objects with SQL Server types.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from . import sqltypes as t
from .catalog import Catalog, Login
from .sqltypes import SqlType
from .system_tables import TABLES, SystemTable, can_see

_MAJOR_TO_YEAR = {16: "2022", 15: "2019", 14: "2017", 13: "2016", 12: "2014", 11: "2012", 10: "2008 R2"}


class SqlError(Exception):
    """An error SQL Server would report: ``number``, ``severity`` (class), ``state`` and message."""

    def __init__(self, number: int, message: str, severity: int = 16, state: int = 1):
        super().__init__(message)
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state


@dataclass(frozen=True)
class ResultColumn:
    name: str
    type: SqlType


@dataclass
class StatementResult:
    """What one statement produced: a result set, a row count, an error, or a session change."""

    columns: list[ResultColumn] | None = None
    rows: list[tuple] = field(default_factory=list)
    rowcount: int | None = None
    error: SqlError | None = None
    database_change: tuple[str, str] | None = None  # (new, old)
    transaction: str | None = None  # "begin", "commit" or "rollback"


class Engine:
    """The emulated instance's query logic, shared by all sessions."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._spid_lock = threading.Lock()
        self._next_spid = 51

    def authenticate(self, user: str, password: str) -> Login | None:
        login = self.catalog.login(user)
        if login is None or login.password != password:
            return None
        return login

    def open_session(self, login: Login, database: str | None = None) -> "Session":
        """Open a session; raises SqlError 4060 when the requested database cannot be opened."""
        with self._spid_lock:
            spid = self._next_spid
            self._next_spid += 1
        name = database or login.default_database or "master"
        db = self.catalog.database(name)
        if db is None or not can_see(login, db) or db.state != "ONLINE":
            raise SqlError(4060, f'Cannot open database "{name}" requested by the login. The login failed.',
                           11, 1)
        return Session(self.catalog, login, db.name, spid)


def _collate(a: str, b: str) -> int:
    a, b = a.rstrip(" ").casefold(), b.rstrip(" ").casefold()
    return (a > b) - (a < b)


_AFFINITY = {"nvarchar": "TEXT", "datetime": "TEXT", "float": "REAL", "numeric": "NUMERIC",
             "varbinary": "BLOB", "uniqueidentifier": "TEXT"}


def _to_sqlite(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Session:
    """One connection's state: login, current database, open transactions, its SQLite."""

    def __init__(self, catalog: Catalog, login: Login, database: str, spid: int):
        self.catalog = catalog
        self.login = login
        self.database = database
        self.spid = spid
        self.trancount = 0
        self.last_rowcount = 0
        self._loaded: set[str] = set()
        self._prepared: dict[int, tuple[str, str]] = {}
        self._next_handle = 0
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.create_collation("TSQL_CI", _collate)
        for schema in sorted({table.sqlite_location[0] for table in TABLES.values()}):
            self._db.execute(f'ATTACH DATABASE ":memory:" AS "{schema}"')
        self._register_functions()

    def close(self) -> None:
        self._db.close()

    # ---- built-in functions ------------------------------------------------------------------------
    def _register_functions(self) -> None:
        catalog, login = self.catalog, self.login
        major = int(catalog.version.split(".")[0])
        parts = catalog.version.split(".")
        properties = {
            "productversion": catalog.version, "productlevel": "RTM", "productmajorversion": parts[0],
            "productminorversion": parts[1], "productbuild": parts[2],
            "edition": "Developer Edition (64-bit)", "engineedition": 3, "machinename": catalog.server_name,
            "servername": catalog.server_name, "instancename": None, "isclustered": 0, "ishadrenabled": 0,
            "collation": "SQL_Latin1_General_CP1_CI_AS", "isintegratedsecurityonly": 0,
        }
        globals_ = {
            "version": (f"Microsoft SQL Server {_MAJOR_TO_YEAR.get(major, '')} (RTM) - {catalog.version} (X64) "
                        f"\n\tDeveloper Edition (64-bit) on Linux (TDS emulator)\n"),
            "servername": catalog.server_name, "servicename": "MSSQLSERVER", "language": "us_english",
            "max_precision": 38, "error": 0, "textsize": 2147483647, "options": 5496,
        }

        def serverproperty(name):
            return properties.get(str(name).lower()) if name is not None else None

        def global_value(name):
            key = str(name).lower()
            if key == "spid":
                return self.spid
            if key == "trancount":
                return self.trancount
            if key == "rowcount":
                return self.last_rowcount
            if key not in globals_:
                raise SqlError(137, f'Must declare the scalar variable "@@{name}".', 15, 2)
            return globals_[key]

        def has_perms_by_name(securable, securable_class, permission, *_rest):
            permission = (permission or "").upper()
            if securable is None and securable_class is None:
                if login.sysadmin:
                    return 1
                if permission == "VIEW ANY DATABASE":
                    return int(login.view_any_database)
                return int(permission in ("CONNECT SQL",))
            if str(securable_class or "").upper() == "DATABASE":
                db = catalog.database(str(securable))
                if db is None:
                    return None
                if login.sysadmin or db.owner.lower() == login.name.lower():
                    return 1
                if not can_see(login, db):
                    return 0
                return int(permission in ("CONNECT", "VIEW DATABASE STATE") and db.name in ("master", "tempdb"))
            return int(login.sysadmin)

        def db_name(database_id=None):
            if database_id is None:
                return self.database
            db = catalog.database_by_id(int(database_id))
            return db.name if db else None

        def db_id(name=None):
            db = catalog.database(self.database if name is None else str(name))
            return db.database_id if db else None

        def suser_sname(*_args):
            return login.name

        def is_srvrolemember(role, *_args):
            role = str(role or "").lower()
            if role == "sysadmin":
                return int(login.sysadmin)
            if role == "public":
                return 1
            return 0

        def preferred_replica(name):
            db = catalog.database(str(name)) if name is not None else None
            return int(db.preferred_replica) if db else 1

        def getdate():
            return datetime.now().isoformat(sep=" ", timespec="milliseconds")

        def wrap(fn):
            def call(*args):
                try:
                    return fn(*args)
                except SqlError as exc:
                    self._function_error = exc
                    raise
            return call

        self._function_error: SqlError | None = None
        for name, fn in {"serverproperty": serverproperty, "tds_global": global_value,
                         "has_perms_by_name": has_perms_by_name, "db_name": db_name, "db_id": db_id,
                         "suser_sname": suser_sname, "suser_name": suser_sname, "original_login": suser_sname,
                         "is_srvrolemember": is_srvrolemember,
                         "fn_hadr_backup_is_preferred_replica": preferred_replica,
                         "getdate": getdate, "sysdatetime": getdate,
                         "repeat": lambda text, count: None if text is None or count is None else text * int(count),
                         }.items():
            self._db.create_function(name, -1, wrap(fn))

    # ---- tables --------------------------------------------------------------------------------------
    def _ensure_loaded(self, table: SystemTable) -> None:
        key = table.name.lower()
        if key in self._loaded:
            return
        schema, name = table.sqlite_location
        columns = ", ".join(
            f'"{c.name}" {_AFFINITY.get(c.type.kind, "INTEGER")}' + (" COLLATE TSQL_CI" if c.text_collation else "")
            for c in table.columns)
        self._db.execute(f'CREATE TABLE "{schema}"."{name}" ({columns})')
        marks = ", ".join("?" for _ in table.columns)
        self._db.executemany(f'INSERT INTO "{schema}"."{name}" VALUES ({marks})',
                             (tuple(_to_sqlite(v) for v in row) for row in table.rows(self.catalog, self.login)))
        self._loaded.add(key)

    def _resolve(self, table: exp.Table) -> SystemTable:
        catalog, schema, name = table.catalog.lower(), table.db.lower(), table.name.lower()
        if schema == "sys":
            key = f"sys.{name}"
        else:
            key = f"{catalog or self.database.lower()}.{schema or 'dbo'}.{name}"
        found = TABLES.get(key)
        if found is None:
            written = ".".join(p for p in (table.catalog, table.db, table.name) if p)
            if table.catalog and not table.db:
                written = f"{table.catalog}..{table.name}"
            raise SqlError(208, f"Invalid object name '{written}'.", 16, 1)
        return found

    # ---- statements ----------------------------------------------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[StatementResult]:
        """Run a batch; stops at the first error (which is the last result)."""
        params = {k.lstrip("@").lower(): _to_sqlite(v) for k, v in (params or {}).items()}
        if not sql.strip():
            return []
        try:
            statements = [s for s in sqlglot.parse(sql, read="tsql") if s is not None]
        except (ParseError, TokenError) as exc:
            return [StatementResult(error=_syntax_error(exc))]
        results: list[StatementResult] = []
        for statement in statements:
            try:
                result = self._statement(statement, params)
            except SqlError as exc:
                results.append(StatementResult(error=exc))
                break
            if result.rowcount is not None:
                self.last_rowcount = result.rowcount
            results.append(result)
        return results

    def _statement(self, statement: exp.Expression, params: dict[str, Any]) -> StatementResult:
        if isinstance(statement, exp.Query):
            return self._query(statement, params)
        if isinstance(statement, exp.Set):
            return StatementResult()
        if isinstance(statement, exp.Use):
            return self._use(statement.this.name if statement.this else "")
        if isinstance(statement, exp.Transaction):
            self.trancount += 1
            return StatementResult(transaction="begin" if self.trancount == 1 else None)
        if isinstance(statement, exp.Commit):
            if self.trancount == 0:
                raise SqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            self.trancount -= 1
            return StatementResult(transaction="commit" if self.trancount == 0 else None)
        if isinstance(statement, exp.Rollback):
            if self.trancount == 0:
                raise SqlError(3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            self.trancount = 0
            return StatementResult(transaction="rollback")
        if isinstance(statement, exp.Execute):
            name = statement.this.sql(dialect="tsql") if statement.this else ""
            args: list[tuple[str | None, Any]] = []
            for arg in statement.expressions:
                if isinstance(arg, exp.EQ):
                    args.append((arg.this.sql(dialect="tsql"), _literal(arg.expression)))
                else:
                    args.append((None, _literal(arg)))
            results = self.call(name.replace("[", "").replace("]", ""), args).results
            if results and results[-1].error:
                raise results[-1].error
            return results[-1] if results else StatementResult()
        kind = statement.key.upper()
        raise SqlError(40000, f"The TDS emulator does not support {kind} statements.", 16, 1)

    def _use(self, name: str) -> StatementResult:
        db = self.catalog.database(name)
        if db is None or not can_see(self.login, db):
            raise SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.",
                           16, 1)
        if db.state != "ONLINE":
            raise SqlError(942, f"Database '{db.name}' cannot be opened because it is {db.state.lower()}.", 14, 4)
        old, self.database = self.database, db.name
        return StatementResult(database_change=(db.name, old))

    def _query(self, statement: exp.Expression, params: dict[str, Any]) -> StatementResult:
        statement = statement.copy()
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        scope: dict[str, SqlType] = {}
        for table in list(statement.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                raise SqlError(40000, "The TDS emulator does not support table-valued functions.")
            if not table.db and not table.catalog and table.name.lower() in ctes:
                continue
            found = self._resolve(table)
            self._ensure_loaded(found)
            schema, name = found.sqlite_location
            table.set("this", exp.to_identifier(name, quoted=True))
            table.set("db", exp.to_identifier(schema, quoted=True))
            table.set("catalog", None)
            for column in found.columns:
                scope.setdefault(column.name.lower(), column.type)
        projections = list(statement.selects) if hasattr(statement, "selects") else []
        has_star = any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                       for p in projections)
        declared = [None if has_star else _infer(p, scope) for p in projections]
        names = [None if has_star else _output_name(p) for p in projections]
        statement = statement.transform(lambda node: _rewrite(node, params))
        statement = statement.transform(_rewrite_cast)
        sql = statement.sql(dialect="sqlite", identify=True)
        self._function_error = None
        try:
            cursor = self._db.execute(sql, params)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            if self._function_error is not None:
                raise self._function_error from exc
            raise _sqlite_error(exc) from exc
        description = cursor.description or ()
        columns: list[ResultColumn] = []
        data = list(zip(*rows)) if rows else [() for _ in description]
        for index, desc in enumerate(description):
            sql_type = declared[index] if index < len(declared) else None
            if sql_type is None:
                sql_type = scope.get(desc[0].lower()) if has_star else None
            sql_type, values = _coerce(sql_type, data[index])
            data[index] = values
            name = names[index] if index < len(names) and names[index] is not None else desc[0]
            columns.append(ResultColumn(name, sql_type))
        rows = list(zip(*data)) if rows else []
        return StatementResult(columns=columns, rows=rows, rowcount=len(rows))

    # ---- procedures ----------------------------------------------------------------------------------
    def call(self, name: str, args: list[tuple[str | None, Any]]) -> "ProcedureOutcome":
        """Run a stored procedure (RPC or EXEC): sp_executesql, sp_prepexec/sp_prepare/sp_execute/
        sp_unprepare (how FreeTDS ODBC sends parameterised queries) and sp_datatype_info[_100]."""
        key = name.lower().rsplit(".", 1)[-1]
        values = [value for _, value in args]
        if key == "sp_executesql":
            if not values or not isinstance(values[0], str):
                return _failed(SqlError(214, "Procedure expects parameter '@statement' of type "
                                             "'ntext/nchar/nvarchar'.", 16, 2))
            declaration = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
            return ProcedureOutcome(self.execute(values[0], _bind(declaration, args[2:])))
        if key in ("sp_prepexec", "sp_prepare"):
            if len(values) < 3 or not isinstance(values[2], str):
                return _failed(SqlError(8144, f"Procedure or function {key} has too many arguments specified.",
                                        16, 2))
            declaration = values[1] if isinstance(values[1], str) else ""
            self._next_handle += 1
            handle = self._next_handle
            self._prepared[handle] = (declaration, values[2])
            outputs = [(0, args[0][0] or "", t.INT, handle)]
            if key == "sp_prepare":
                return ProcedureOutcome([], outputs=outputs)
            return ProcedureOutcome(self.execute(values[2], _bind(declaration, args[3:])), outputs=outputs)
        if key == "sp_execute":
            prepared = self._prepared.get(values[0] if values else None)
            if prepared is None:
                return _failed(SqlError(8179, f"Could not find prepared statement with handle "
                                              f"{values[0] if values else None}.", 16, 1))
            return ProcedureOutcome(self.execute(prepared[1], _bind(prepared[0], args[1:])))
        if key == "sp_unprepare":
            self._prepared.pop(values[0] if values else None, None)
            return ProcedureOutcome([])
        if key in ("sp_datatype_info_100", "sp_datatype_info"):
            return ProcedureOutcome([_type_info(int(values[0] or 0) if values else 0)])
        return _failed(SqlError(2812, f"Could not find stored procedure '{name}'.", 16, 62))


@dataclass
class ProcedureOutcome:
    """A procedure's results, return status and OUTPUT parameters (ordinal, name, type, value)."""

    results: list[StatementResult]
    return_status: int = 0
    outputs: list[tuple[int, str, SqlType, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.error is not None for r in self.results)


def _failed(error: SqlError) -> ProcedureOutcome:
    return ProcedureOutcome([StatementResult(error=error)], return_status=-6)


def _bind(declaration: str, args: list[tuple[str | None, Any]]) -> dict[str, Any]:
    declared = _declared_parameters(declaration)
    bound: dict[str, Any] = {}
    for position, (param_name, value) in enumerate(args):
        if not param_name:
            param_name = declared[position] if position < len(declared) else f"@P{position + 1}"
        bound[param_name] = value
    return bound


# ---- helpers -------------------------------------------------------------------------------------------
_FUNCTION_TYPES = {
    "serverproperty": t.nvarchar(128), "has_perms_by_name": t.INT, "is_srvrolemember": t.INT,
    "db_id": t.INT, "db_name": t.SYSNAME, "suser_sname": t.SYSNAME, "suser_name": t.SYSNAME,
    "original_login": t.SYSNAME, "fn_hadr_backup_is_preferred_replica": t.BIT, "getdate": t.DATETIME,
    "sysdatetime": t.DATETIME, "count_big": t.BIGINT,
}
_GLOBAL_TYPES = {"version": t.nvarchar(300), "spid": t.SMALLINT, "trancount": t.INT, "servername": t.SYSNAME,
                 "servicename": t.SYSNAME, "language": t.SYSNAME, "rowcount": t.INT, "error": t.INT,
                 "max_precision": t.TINYINT, "textsize": t.INT, "options": t.INT}


def _infer(node: exp.Expression, scope: dict[str, SqlType]) -> SqlType | None:
    if isinstance(node, (exp.Alias, exp.Paren)):
        return _infer(node.this, scope)
    if isinstance(node, exp.Column):
        return scope.get(node.name.lower())
    if isinstance(node, exp.Cast):
        return t.parse_type(node.to.sql(dialect="tsql"))
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        return _FUNCTION_TYPES.get(node.expression.name.lower())
    if isinstance(node, exp.Anonymous):
        return _FUNCTION_TYPES.get(node.name.lower())
    if isinstance(node, exp.CurrentUser):
        return t.SYSNAME
    if isinstance(node, exp.CurrentTimestamp):
        return t.DATETIME
    if isinstance(node, exp.Count):
        return t.INT
    if isinstance(node, (exp.Max, exp.Min, exp.Coalesce, exp.Upper, exp.Lower)):
        return _infer(node.this, scope)
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Parameter):
        return _GLOBAL_TYPES.get(node.this.name.lower())
    if isinstance(node, (exp.National,)) or (isinstance(node, exp.Literal) and node.is_string):
        return t.nvarchar(max(1, len(node.name)))
    return None


def _output_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return None  # SQLite's name for it
    return ""


def _rewrite(node: exp.Expression, params: dict[str, Any]) -> exp.Expression:
    if isinstance(node, exp.Parameter):
        if isinstance(node.this, exp.Parameter):
            return exp.Anonymous(this="tds_global", expressions=[exp.Literal.string(node.this.name)])
        name = node.name.lower()
        if name not in params:
            raise SqlError(137, f'Must declare the scalar variable "@{node.name}".', 15, 2)
        return exp.Parameter(this=exp.Var(this=name))
    if isinstance(node, exp.National):
        return exp.Literal.string(node.name)
    if isinstance(node, exp.CurrentUser):
        return exp.Anonymous(this="suser_sname", expressions=[])
    if isinstance(node, exp.CurrentTimestamp):
        return exp.Anonymous(this="getdate", expressions=[])
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        return node.expression
    return node


def _rewrite_cast(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Cast):
        target = t.parse_type(node.to.sql(dialect="tsql"))
        if target is not None and target.kind != "datetime":
            affinity = _AFFINITY.get(target.kind, "INTEGER")
            return exp.Cast(this=node.this, to=exp.DataType.build(affinity, dialect="sqlite"))
    return node


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.name
        text = node.name
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if isinstance(node, exp.National):
        return node.name
    if isinstance(node, exp.Neg):
        return -_literal(node.this)
    if isinstance(node, exp.Null):
        return None
    return node.sql(dialect="tsql")


def _declared_parameters(declaration: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"(@[\w@#$]+)\s+[a-z]", declaration, re.I)]


def _syntax_error(exc: Exception) -> SqlError:
    near = ""
    errors = getattr(exc, "errors", None) or []
    if errors and errors[0].get("highlight"):
        near = errors[0]["highlight"]
    return SqlError(102, f"Incorrect syntax near '{near or 'end of batch'}'.", 15, 1)


def _sqlite_error(exc: sqlite3.Error) -> SqlError:
    text = str(exc)
    m = re.match(r"no such column: (?:\w+\.)?(.+)", text)
    if m:
        return SqlError(207, f"Invalid column name '{m.group(1)}'.", 16, 1)
    m = re.match(r"no such function: (.+)", text)
    if m:
        return SqlError(195, f"'{m.group(1)}' is not a recognized built-in function name.", 15, 10)
    m = re.match(r"no such table: (?:\w+\.)?(.+)", text)
    if m:
        return SqlError(208, f"Invalid object name '{m.group(1)}'.", 16, 1)
    if "syntax error" in text:
        return SqlError(102, f"Incorrect syntax ({text}).", 15, 1)
    return SqlError(50000, f"TDS emulator: {text}", 16, 1)


def _coerce(sql_type: SqlType | None, values: Iterable[Any]) -> tuple[SqlType, list[Any]]:
    values = list(values)
    if sql_type is not None:
        try:
            return _convert(sql_type, values)
        except (TypeError, ValueError, ArithmeticError):
            pass
    present = [v for v in values if v is not None]
    if not present:
        return (sql_type or t.INT), values
    if all(isinstance(v, int) for v in present):
        return _convert(t.INT, values)
    if all(isinstance(v, (int, float)) for v in present):
        return t.FLOAT, [None if v is None else float(v) for v in values]
    if all(isinstance(v, bytes) for v in present):
        return _convert(t.varbinary(max(1, max(len(v) for v in present))), values)
    return _convert(t.nvarchar(1), [None if v is None else str(v) for v in values])


def _convert(sql_type: SqlType, values: list[Any]) -> tuple[SqlType, list[Any]]:
    kind = sql_type.kind
    if kind == "nvarchar":
        out = [v if v is None or isinstance(v, str) else str(v) for v in values]
        longest = max((len(v) for v in out if v is not None), default=0)
        if sql_type.length != t.MAX and longest > sql_type.length:
            sql_type = t.nvarchar(longest) if longest <= 4000 else t.NVARCHAR_MAX
        return sql_type, out
    if kind in t.INTEGER_KINDS:
        out = [None if v is None else _int(v) for v in values]
        low, high = t.INTEGER_KINDS[kind]
        if any(v is not None and not low <= v <= high for v in out):
            sql_type = t.BIGINT if all(v is None or -(2**63) <= v < 2**63 for v in out) else t.numeric(38, 0)
            if sql_type.kind == "numeric":
                out = [None if v is None else Decimal(v) for v in out]
        return sql_type, out
    if kind == "bit":
        return sql_type, [None if v is None else bool(_int(v)) for v in values]
    if kind == "float":
        return sql_type, [None if v is None else float(v) for v in values]
    if kind == "numeric":
        return sql_type, [None if v is None else Decimal(str(v)) for v in values]
    if kind == "datetime":
        return sql_type, [None if v is None else _datetime(v) for v in values]
    if kind == "varbinary":
        out = [None if v is None else (v if isinstance(v, bytes) else str(v).encode()) for v in values]
        return sql_type, out
    return _convert(t.nvarchar(1), values)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(value)


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("T", " ").replace("Z", ""))


# sp_datatype_info_100: enough for pyodbc's SQLGetTypeInfo calls (it reads COLUMN_SIZE, the 3rd column).
_TYPE_INFO_COLUMNS = [
    ("TYPE_NAME", t.SYSNAME), ("DATA_TYPE", t.SMALLINT), ("PRECISION", t.INT), ("LITERAL_PREFIX", t.nvarchar(32)),
    ("LITERAL_SUFFIX", t.nvarchar(32)), ("CREATE_PARAMS", t.nvarchar(32)), ("NULLABLE", t.SMALLINT),
    ("CASE_SENSITIVE", t.SMALLINT), ("SEARCHABLE", t.SMALLINT), ("UNSIGNED_ATTRIBUTE", t.SMALLINT),
    ("MONEY", t.SMALLINT), ("AUTO_INCREMENT", t.SMALLINT), ("LOCAL_TYPE_NAME", t.SYSNAME),
    ("MINIMUM_SCALE", t.SMALLINT), ("MAXIMUM_SCALE", t.SMALLINT), ("SQL_DATA_TYPE", t.SMALLINT),
    ("SQL_DATETIME_SUB", t.SMALLINT), ("NUM_PREC_RADIX", t.INT), ("INTERVAL_PRECISION", t.SMALLINT),
    ("USERTYPE", t.SMALLINT),
]
_TYPE_INFO_ROWS = [
    ("bit", -7, 1, None, None, None, 1, 0, 2, None, 0, None, "bit", 0, 0, -7, None, None, None, 16),
    ("int", 4, 10, None, None, None, 1, 0, 2, 0, 0, 0, "int", 0, 0, 4, None, 10, None, 7),
    ("bigint", -5, 19, None, None, None, 1, 0, 2, 0, 0, 0, "bigint", 0, 0, -5, None, 10, None, 0),
    ("varbinary", -3, 8000, "0x", None, "max length", 1, 0, 2, None, 0, None, "varbinary", None, None, -3,
     None, None, None, 4),
    ("binary", -2, 8000, "0x", None, "length", 1, 0, 2, None, 0, None, "binary", None, None, -2, None, None,
     None, 3),
    ("varchar", 12, 8000, "'", "'", "max length", 1, 0, 3, None, 0, None, "varchar", None, None, 12, None, None,
     None, 2),
    ("nvarchar", -9, 4000, "N'", "'", "max length", 1, 0, 3, None, 0, None, "nvarchar", None, None, -9, None,
     None, None, 0),
    ("datetime", 93, 23, "'", "'", None, 1, 0, 3, None, 0, None, "datetime", 3, 3, 9, 3, None, None, 12),
]


def _type_info(data_type: int) -> StatementResult:
    if data_type == 11:
        data_type = 93
    rows = [row for row in _TYPE_INFO_ROWS if data_type in (0, row[1])]
    columns = [ResultColumn(name, sql_type) for name, sql_type in _TYPE_INFO_COLUMNS]
    return StatementResult(columns=columns, rows=rows, rowcount=len(rows))
