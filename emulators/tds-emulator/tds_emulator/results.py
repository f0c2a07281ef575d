"""What running T-SQL produces, free of any wire format: result sets, row counts and SQL Server's errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from .sqltypes import SqlType


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
