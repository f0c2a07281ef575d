"""SQL Server data types as the emulator models them (shared by the engine and the wire encoder)."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``length`` value meaning ``(MAX)``.
MAX = -1


@dataclass(frozen=True)
class SqlType:
    """A SQL Server type: ``kind`` is the lower-case type name; ``length`` is in characters for
    ``nvarchar`` (``MAX`` for nvarchar(max)) and in bytes for ``varbinary``."""

    kind: str
    length: int = 0
    precision: int = 0
    scale: int = 0

    def __str__(self) -> str:
        if self.kind in ("nvarchar", "varbinary"):
            return f"{self.kind}({'max' if self.length == MAX else self.length})"
        if self.kind == "numeric":
            return f"numeric({self.precision},{self.scale})"
        return self.kind


def nvarchar(length: int) -> SqlType:
    return SqlType("nvarchar", length)


NVARCHAR_MAX = SqlType("nvarchar", MAX)
SYSNAME = nvarchar(128)
TINYINT = SqlType("tinyint")
SMALLINT = SqlType("smallint")
INT = SqlType("int")
BIGINT = SqlType("bigint")
BIT = SqlType("bit")
FLOAT = SqlType("float")
DATETIME = SqlType("datetime")
UNIQUEIDENTIFIER = SqlType("uniqueidentifier")


def numeric(precision: int = 18, scale: int = 0) -> SqlType:
    return SqlType("numeric", precision=precision, scale=scale)


def varbinary(length: int) -> SqlType:
    return SqlType("varbinary", length)


INTEGER_KINDS = {"tinyint": (0, 255), "smallint": (-(2**15), 2**15 - 1), "int": (-(2**31), 2**31 - 1),
                 "bigint": (-(2**63), 2**63 - 1)}

_ALIASES = {
    "varchar": "nvarchar", "nchar": "nvarchar", "char": "nvarchar", "text": "nvarchar", "ntext": "nvarchar",
    "sysname": "nvarchar", "sql_variant": "nvarchar", "integer": "int", "decimal": "numeric",
    "money": "numeric", "smallmoney": "numeric", "real": "float", "double": "float",
    "smalldatetime": "datetime", "datetime2": "datetime", "date": "datetime", "binary": "varbinary",
    "image": "varbinary", "rowversion": "varbinary", "timestamp": "varbinary", "boolean": "bit",
}
_TYPE_RE = re.compile(r"^\s*([a-z_0-9]+)\s*(?:\(\s*([a-z0-9]+)\s*(?:,\s*([0-9]+)\s*)?\))?\s*$", re.I)


def parse_type(text: str) -> SqlType | None:
    """Parse a T-SQL type name such as ``NVARCHAR(128)``, ``int`` or ``decimal(25, 0)``; None if unknown."""
    m = _TYPE_RE.match(text)
    if not m:
        return None
    raw, arg1, arg2 = m.group(1).lower(), m.group(2), m.group(3)
    kind = _ALIASES.get(raw, raw)
    if raw == "sysname":
        return SYSNAME
    if kind == "nvarchar" or kind == "varbinary":
        if arg1 is None:
            length = 1 if raw in ("varchar", "nvarchar", "char", "nchar", "binary", "varbinary") else MAX
        elif arg1.lower() == "max":
            length = MAX
        else:
            length = int(arg1)
        if kind == "nvarchar" and length > 4000:
            length = MAX
        if kind == "varbinary" and length > 8000:
            length = MAX
        return SqlType(kind, length)
    if kind == "numeric":
        if raw in ("money", "smallmoney"):
            return numeric(19, 4)
        return numeric(int(arg1) if arg1 and arg1.isdigit() else 18, int(arg2) if arg2 else 0)
    if kind in INTEGER_KINDS or kind in ("bit", "float", "datetime", "uniqueidentifier"):
        return SqlType(kind)
    return None
