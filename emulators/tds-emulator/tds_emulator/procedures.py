"""The stored procedures a driver calls: sp_executesql, sp_prepexec/sp_prepare/sp_execute/sp_unprepare (how
FreeTDS ODBC sends parameterised queries) and sp_datatype_info[_100] (pyodbc's SQLGetTypeInfo). Any other
name is SQL Server's error 2812.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import sqltypes as t
from .results import ResultColumn, SqlError, StatementResult
from .sqltypes import SqlType

if TYPE_CHECKING:
    from .engine import Session


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


def call(session: Session, name: str, args: list[tuple[str | None, Any]]) -> ProcedureOutcome:
    """Run a stored procedure (RPC or EXEC) in ``session``; ``args`` are (name or None, value) pairs."""
    key = name.lower().rsplit(".", 1)[-1]
    values = [value for _, value in args]
    if key == "sp_executesql":
        if not values or not isinstance(values[0], str):
            return _failed(SqlError(214, "Procedure expects parameter '@statement' of type "
                                         "'ntext/nchar/nvarchar'.", 16, 2))
        declaration = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
        return ProcedureOutcome(session.execute(values[0], _bind(declaration, args[2:])))
    if key in ("sp_prepexec", "sp_prepare"):
        if len(values) < 3 or not isinstance(values[2], str):
            return _failed(SqlError(8144, f"Procedure or function {key} has too many arguments specified.",
                                    16, 2))
        declaration = values[1] if isinstance(values[1], str) else ""
        handle = session.prepare(declaration, values[2])
        outputs = [(0, args[0][0] or "", t.INT, handle)]
        if key == "sp_prepare":
            return ProcedureOutcome([], outputs=outputs)
        return ProcedureOutcome(session.execute(values[2], _bind(declaration, args[3:])), outputs=outputs)
    if key == "sp_execute":
        prepared = session.prepared(values[0] if values else None)
        if prepared is None:
            return _failed(SqlError(8179, f"Could not find prepared statement with handle "
                                          f"{values[0] if values else None}.", 16, 1))
        return ProcedureOutcome(session.execute(prepared[1], _bind(prepared[0], args[1:])))
    if key == "sp_unprepare":
        session.unprepare(values[0] if values else None)
        return ProcedureOutcome([])
    if key in ("sp_datatype_info_100", "sp_datatype_info"):
        return ProcedureOutcome([_type_info(int(values[0] or 0) if values else 0)])
    return _failed(SqlError(2812, f"Could not find stored procedure '{name}'.", 16, 62))


def _declared_parameters(declaration: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"(@[\w@#$]+)\s+[a-z]", declaration, re.I)]


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
