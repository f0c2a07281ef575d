"""T-SQL execution against an embedded SQLite: the emulator's query logic, free of any wire format.

One ``Engine`` per emulated instance; one ``Session`` per connection. A session owns a private in-memory
SQLite connection with an attached database per schema of ``system_tables.TABLES`` (``sys``, ``msdb``);
a table is created and filled (as the session's login may see it) the first time a query names it.
T-SQL is parsed with sqlglot, table names are resolved here, SQL Server built-ins rewritten
(:mod:`~tds_emulator.translation`, :mod:`~tds_emulator.builtins`), and the statement is run as SQLite.
Results come back as ``StatementResult`` objects with SQL Server types; procedures are in
:mod:`~tds_emulator.procedures`.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from . import batches, builtins, options, procedures, resolution, semantics
from .catalog import Catalog, Login
from .procedures import ProcedureOutcome
from .results import ResultColumn, SqlError, StatementResult
from .sqltypes import MAX, SqlType
from .system_tables import TABLES, SystemTable, can_see
from .translation import (
    AFFINITY,
    SQLITE,
    coerce,
    collate,
    infer_type,
    literal,
    output_name,
    rewrite,
    rewrite_cast,
    sqlite_error,
    syntax_error,
    to_sqlite,
)


class _ParseCache:
    """Batches parsed before, by their text: a client sends the same few batches on every connection (a
    precheck's nine SQL items send the same catalog queries at once), and parsing is a quarter of the time a
    query takes here. Parsing depends on the text alone, never on the session, so a cached batch answers
    exactly as a fresh parse would: every use works on a copy (``Session._query`` copies the tree before it
    rewrites it; the other statements are only read). A batch that does not parse, or holds a statement whose
    execution fails (an unsupported SET value), is not cached: it is parsed again, and fails again. Bounded:
    the oldest batch is forgotten past ``size`` batches, and a long batch is never kept."""

    def __init__(self, size: int = 256, longest: int = 16_384):
        self._size, self._longest = size, longest
        self._parsed: dict[str, list[exp.Expression | SqlError]] = {}
        self._lock = threading.Lock()

    def get(self, sql: str) -> list[exp.Expression | SqlError] | None:
        with self._lock:
            return self._parsed.get(sql)

    def put(self, sql: str, statements: list[exp.Expression | SqlError]) -> list[exp.Expression | SqlError]:
        if len(sql) <= self._longest and not any(isinstance(statement, SqlError) for statement in statements):
            with self._lock:
                self._parsed[sql] = statements
                if len(self._parsed) > self._size:
                    del self._parsed[next(iter(self._parsed))]
        return statements


_PARSED = _ParseCache()


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

    def open_session(self, login: Login, database: str | None = None) -> Session:
        """Open a session in ``database``, or in the login's default database when the client asked for none.

        Raises SqlError 4060 when the requested database cannot be opened, 4064 when the default one cannot
        (missing, not ONLINE, or not the login's to see): MSSQLSERVER_4060 and MSSQLSERVER_4064,
        https://learn.microsoft.com/sql/relational-databases/errors-events/mssqlserver-4064-database-engine-error
        (both class 11, state 1; the server follows them with 18456).
        """
        with self._spid_lock:
            spid = self._next_spid
            self._next_spid += 1
        name = database or login.default_database or "master"
        db = self.catalog.database(name)
        if db is None or not can_see(login, db) or db.state != "ONLINE":
            if not database:
                raise SqlError(4064, "Cannot open user default database. Login failed.", 11, 1)
            raise SqlError(4060, f'Cannot open database "{name}" requested by the login. The login failed.',
                           11, 1)
        return Session(self.catalog, login, db.name, spid)


class Session:
    """One connection's state: login, current database, open transactions, its SQLite."""

    def __init__(self, catalog: Catalog, login: Login, database: str, spid: int):
        self.catalog = catalog
        self.login = login
        self.database = database
        self.spid = spid
        self.trancount = 0
        self.last_rowcount = 0
        self.textsize = 2147483647  # SET TEXTSIZE: bytes of a MAX value a SELECT returns
        self.nocount = False  # SET NOCOUNT ON: DONE tokens do not carry the row count (DONE_COUNT clear)
        self._loaded: set[str] = set()
        self._prepared: dict[int, tuple[str, str]] = {}
        self._next_handle = 0
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.create_collation("TSQL_CI", collate)
        for schema in sorted({table.sqlite_location[0] for table in TABLES.values()}):
            self._db.execute(f'ATTACH DATABASE ":memory:" AS "{schema}"')
        self.function_error: SqlError | None = None   # set by a built-in that failed
        builtins.register(self._db, self)
        semantics.register(self._db, self._function_failed)
        self._functions = semantics.registered_functions(self._db)

    def close(self) -> None:
        self._db.close()

    def _function_failed(self, error: SqlError) -> None:
        self.function_error = error

    # ---- tables --------------------------------------------------------------------------------------
    def _ensure_loaded(self, table: SystemTable) -> None:
        key = table.name.lower()
        if key in self._loaded:
            return
        denied = table.denied(self.catalog, self.login)
        if denied is not None:
            raise denied
        schema, name = table.sqlite_location
        columns = ", ".join(
            f'"{c.name}" {AFFINITY.get(c.type.kind, "INTEGER")}' + (" COLLATE TSQL_CI" if c.text_collation else "")
            for c in table.columns)
        self._db.execute(f'CREATE TABLE "{schema}"."{name}" ({columns})')
        marks = ", ".join("?" for _ in table.columns)
        self._db.executemany(f'INSERT INTO "{schema}"."{name}" VALUES ({marks})',
                             (tuple(to_sqlite(v) for v in row)
                              for row in table.rows(self.catalog, self.login, self.database)))
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
        """Run a batch; stops at the first error (which is the last result). Like SQL Server, the whole batch
        is parsed first: a syntax error runs nothing."""
        params = {k.lstrip("@").lower(): to_sqlite(v) for k, v in (params or {}).items()}
        if not sql.strip():
            return []
        try:
            statements = _PARSED.get(sql) or _PARSED.put(sql, [self._parse(statement)
                                                             for statement in batches.split(sql)])
        except SqlError as exc:
            return [StatementResult(error=exc)]
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

    @staticmethod
    def _parse(statement: batches.Statement) -> exp.Expression | SqlError:
        """A statement parsed by sqlglot, or the error its execution raises (an unsupported SET value)."""
        if statement.first_word == "SET":
            try:
                changes = options.apply(statement.text, statement.tokens)
            except SqlError as exc:
                if exc.severity == 15:  # a syntax error: the batch does not run
                    raise
                return exc
            setting = exp.Set()
            setting.meta["changes"] = changes
            return setting
        text = f"EXEC {statement.text}" if statement.bare_call else statement.text
        try:
            parsed = [s for s in sqlglot.parse(text, read="tsql") if s is not None]
        except (ParseError, TokenError) as exc:
            raise syntax_error(exc) from exc
        if len(parsed) != 1:
            raise SqlError(102, f"Incorrect syntax near '{statement.tokens[-1].text}'.", 15, 1)
        return parsed[0]

    def _statement(self, statement: exp.Expression | SqlError, params: dict[str, Any]) -> StatementResult:
        if isinstance(statement, SqlError):
            raise statement
        if isinstance(statement, exp.Query):
            return self._query(statement, params)
        if isinstance(statement, exp.Set):
            changes = statement.meta.get("changes", {})
            self.textsize = changes.get("textsize", self.textsize)
            self.nocount = bool(changes.get("nocount", self.nocount))
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
                    args.append((arg.this.sql(dialect="tsql"), literal(arg.expression)))
                else:
                    args.append((None, literal(arg)))
            results = self.call(name.replace("[", "").replace("]", ""), args).results
            if results and results[-1].error:
                raise results[-1].error
            return results[-1] if results else StatementResult()
        kind = statement.name.split()[0] if isinstance(statement, exp.Command) and statement.name else statement.key
        raise SqlError(40000, f"The TDS emulator does not support {kind.upper()} statements.", 16, 1)

    def _use(self, name: str) -> StatementResult:
        db = self.catalog.database(name)
        if db is None or not can_see(self.login, db):
            raise SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.",
                           16, 1)
        if db.state != "ONLINE":
            raise SqlError(942, f"Database '{db.name}' cannot be opened because it is {db.state.lower()}.", 14, 4)
        old, self.database = self.database, db.name
        self._forget_server_views()
        return StatementResult(database_change=(db.name, old))

    def _forget_server_views(self) -> None:
        """Drop the loaded sys.* views: what they show depends on the current database (sys.databases always
        shows the one the session is connected to), so they are filled again when next named."""
        for key in [k for k in self._loaded if k.startswith("sys.")]:
            schema, name = TABLES[key].sqlite_location
            self._db.execute(f'DROP TABLE "{schema}"."{name}"')
            self._loaded.discard(key)

    def _query(self, statement: exp.Expression, params: dict[str, Any]) -> StatementResult:
        statement = statement.copy()
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        scope: dict[str, SqlType] = {}
        found_tables: dict[int, SystemTable] = {}
        for table in list(statement.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                raise SqlError(40000, "The TDS emulator does not support table-valued functions.")
            if not table.db and not table.catalog and table.name.lower() in ctes:
                continue
            found_tables[id(table)] = self._resolve(table)
        resolution.check(statement, lambda node: _column_names(found_tables.get(id(node))))
        semantics.check_functions(statement, self._functions)
        for table in list(statement.find_all(exp.Table)):
            found = found_tables.get(id(table))
            if found is None:
                continue
            self._ensure_loaded(found)
            schema, name = found.sqlite_location
            if not table.alias:  # SQLite exposes it under the name T-SQL does: sys.databases as databases
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(name, quoted=True))
            table.set("db", exp.to_identifier(schema, quoted=True))
            table.set("catalog", None)
            for column in found.columns:
                scope.setdefault(column.name.lower(), column.type)
        for column in statement.find_all(exp.Column):  # bound already: db.schema.table.column -> table.column
            column.set("db", None)
            column.set("catalog", None)
        projections = list(statement.selects) if hasattr(statement, "selects") else []
        has_star = any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                       for p in projections)
        declared = [None if has_star else infer_type(p, scope) for p in projections]
        names = [None if has_star else output_name(p) for p in projections]
        statement = semantics.apply(statement, lambda node: infer_type(node, scope))
        statement = statement.transform(lambda node: rewrite(node, params))
        statement = statement.transform(rewrite_cast)
        sql = statement.sql(dialect=SQLITE, identify=True)
        self.function_error = None
        try:
            cursor = self._db.execute(sql, params)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            if self.function_error is not None:
                raise self.function_error from exc
            raise sqlite_error(exc) from exc
        description = cursor.description or ()
        columns: list[ResultColumn] = []
        data = list(zip(*rows)) if rows else [() for _ in description]
        for index, desc in enumerate(description):
            sql_type = declared[index] if index < len(declared) else None
            if sql_type is None:
                sql_type = scope.get(desc[0].lower()) if has_star else None
            sql_type, values = coerce(sql_type, data[index])
            if sql_type.length == MAX and self.textsize < 2147483647:
                limit = self.textsize // 2 if sql_type.kind == "nvarchar" else self.textsize
                values = [v if v is None else v[:limit] for v in values]
            data[index] = values
            name = names[index] if index < len(names) and names[index] is not None else desc[0]
            columns.append(ResultColumn(name, sql_type))
        rows = list(zip(*data)) if rows else []
        return StatementResult(columns=columns, rows=rows, rowcount=len(rows))

    # ---- procedures ----------------------------------------------------------------------------------
    def call(self, name: str, args: list[tuple[str | None, Any]]) -> ProcedureOutcome:
        """Run a stored procedure (RPC or EXEC); see :mod:`~tds_emulator.procedures`."""
        return procedures.call(self, name, args)

    def prepare(self, declaration: str, statement: str) -> int:
        """Keep a statement for sp_execute; returns its handle."""
        self._next_handle += 1
        self._prepared[self._next_handle] = (declaration, statement)
        return self._next_handle

    def prepared(self, handle: Any) -> tuple[str, str] | None:
        """The (parameter declaration, statement) prepared under ``handle``."""
        return self._prepared.get(handle)

    def unprepare(self, handle: Any) -> None:
        self._prepared.pop(handle, None)


def _column_names(table: SystemTable | None) -> list[str] | None:
    return None if table is None else [column.name for column in table.columns]
