"""TDS token encoding (MS-TDS 2.2.7): the answers the emulator sends, byte for byte.

Pure functions from Python values to bytes; no sockets, no SQL.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .sqltypes import MAX, SqlType

# Latin1_General_CI_AS (LCID 0x0409, CI/AS flags, sort id 52): what SQL Server sends for nvarchar columns.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])

COLMETADATA, ROW, ERROR, INFO, LOGINACK, ENVCHANGE = 0x81, 0xD1, 0xAA, 0xAB, 0xAD, 0xE3
RETURNSTATUS, RETURNVALUE, DONE, DONEPROC, DONEINPROC = 0x79, 0xAC, 0xFD, 0xFE, 0xFF

DONE_FINAL, DONE_MORE, DONE_ERROR, DONE_INXACT, DONE_COUNT, DONE_ATTN = 0x00, 0x01, 0x02, 0x04, 0x10, 0x20
CURCMD_SELECT = 0xC1

ENV_DATABASE, ENV_LANGUAGE, ENV_PACKET_SIZE, ENV_COLLATION = 1, 2, 4, 7
ENV_BEGIN_TRAN, ENV_COMMIT_TRAN, ENV_ROLLBACK_TRAN = 8, 9, 10

_DONE = struct.Struct("<BHHQ")
_DAY_ZERO = datetime(1900, 1, 1)


def b_varchar(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def us_varchar(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def _token(token: int, body: bytes) -> bytes:
    return struct.pack("<BH", token, len(body)) + body


def envchange_text(kind: int, new: str, old: str) -> bytes:
    return _token(ENVCHANGE, bytes([kind]) + b_varchar(new) + b_varchar(old))


def envchange_bytes(kind: int, new: bytes, old: bytes) -> bytes:
    return _token(ENVCHANGE, bytes([kind, len(new)]) + new + bytes([len(old)]) + old)


# TDS versions a LOGIN7 asks for and LOGINACK answers (MS-TDS 2.2.6.4 and 2.2.7.14,
# https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/490e563d-cc6e-4c86-bb95-ef0186b98032).
# The server answers the version the client asked for, or its own highest when the client's is newer; answering
# an older one than asked breaks clients (FreeTDS and python-tds then misread the tokens). TDS 8.0 (strict TLS)
# logs in with 0x08000000 and is answered 7.4. The emulator encodes 7.2 tokens (8-byte DONE row counts, PLP for
# MAX types, ALL_HEADERS), so it refuses 7.1 and 7.0 rather than answer in a format they cannot read.
TDS_72, TDS_73A, TDS_73B, TDS_74, TDS_80 = 0x72090002, 0x730A0003, 0x730B0003, 0x74000004, 0x08000000
TDS_VERSIONS = {TDS_72: "7.2", TDS_73A: "7.3A", TDS_73B: "7.3B", TDS_74: "7.4"}


def loginack_version(requested: int) -> int | None:
    """The version LOGINACK answers to a LOGIN7 asking for ``requested``; None when it is refused."""
    if requested in TDS_VERSIONS:
        return requested
    if requested == TDS_80 or TDS_74 < requested <= 0x7FFFFFFF:
        return TDS_74
    return None


def unsupported_version(requested: int, server: str) -> bytes:
    """The answer to a LOGIN7 asking for a version the emulator does not speak: an ERROR, then DONE(error)."""
    text = (f"The TDS emulator does not support TDS version 0x{requested:08X} (LOGIN7); it speaks TDS 7.2, 7.3A, "
            "7.3B and 7.4. Connect with TDS 7.2 or later.")
    if requested >= TDS_72:
        return message(40000, 1, 16, text, server) + done(DONE_ERROR)
    # before 7.2 the ERROR token's line number is 2 bytes and DONE's row count 4 (MS-TDS 2.2.7.10, 2.2.7.6)
    body = (struct.pack("<iBB", 40000, 1, 16) + us_varchar(text) + b_varchar(server) + b_varchar("")
            + struct.pack("<H", 1))
    return _token(ERROR, body) + struct.pack("<BHHI", DONE, DONE_ERROR, 0, 0)


def loginack(tds_version: int, program: str, version: str) -> bytes:
    major, minor, build = (int(p) for p in version.split(".")[:3])
    body = (bytes([1]) + struct.pack(">I", tds_version) + b_varchar(program)
            + bytes([major & 0xFF, minor & 0xFF, (build >> 8) & 0xFF, build & 0xFF]))
    return _token(LOGINACK, body)


def message(number: int, state: int, severity: int, text: str, server: str, procedure: str = "",
            line: int = 1, info: bool = False) -> bytes:
    body = (struct.pack("<iBB", number, state, severity) + us_varchar(text) + b_varchar(server)
            + b_varchar(procedure) + struct.pack("<i", line))
    return _token(INFO if info else ERROR, body)


def done(status: int = DONE_FINAL, rowcount: int = 0, curcmd: int = 0, token: int = DONE) -> bytes:
    return _DONE.pack(token, status, curcmd, rowcount)


def returnstatus(value: int) -> bytes:
    return struct.pack("<Bi", RETURNSTATUS, value)


def returnvalue(ordinal: int, name: str, sql_type: SqlType, value: Any) -> bytes:
    """RETURNVALUE for an OUTPUT parameter of an RPC (e.g. sp_prepexec's handle)."""
    return (bytes([RETURNVALUE]) + struct.pack("<H", ordinal) + b_varchar(name) + bytes([0x01])
            + struct.pack("<IH", 0, 0x0001) + type_info(sql_type) + value_encoder(sql_type)(value))


# ---- result sets ------------------------------------------------------------------------------------------
_INT_SIZES = {"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8}


def _numeric_size(precision: int) -> int:
    return 4 if precision <= 9 else 8 if precision <= 19 else 12 if precision <= 28 else 16


def type_info(sql_type: SqlType) -> bytes:
    kind = sql_type.kind
    if kind == "nvarchar":
        size = 0xFFFF if sql_type.length == MAX else max(1, sql_type.length) * 2
        return bytes([0xE7]) + struct.pack("<H", size) + COLLATION
    if kind in _INT_SIZES:
        return bytes([0x26, _INT_SIZES[kind]])
    if kind == "bit":
        return bytes([0x68, 1])
    if kind == "float":
        return bytes([0x6D, 8])
    if kind == "datetime":
        return bytes([0x6F, 8])
    if kind == "numeric":
        return bytes([0x6C, 1 + _numeric_size(sql_type.precision), sql_type.precision, sql_type.scale])
    if kind == "varbinary":
        return bytes([0xA5]) + struct.pack("<H", 0xFFFF if sql_type.length == MAX else max(1, sql_type.length))
    raise ValueError(f"no TDS encoding for {sql_type}")


def colmetadata(columns: Sequence[tuple[str, SqlType]]) -> bytes:
    parts = [struct.pack("<BH", COLMETADATA, len(columns))]
    for name, sql_type in columns:
        parts.append(struct.pack("<IH", 0, 0x0001) + type_info(sql_type) + b_varchar(name))
    return b"".join(parts)


def _plp(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + (struct.pack("<I", len(data)) + data if data else b"") + b"\0\0\0\0"


_PLP_NULL = b"\xff" * 8


def value_encoder(sql_type: SqlType) -> Callable[[Any], bytes]:
    kind = sql_type.kind
    if kind == "nvarchar" and sql_type.length == MAX:
        return lambda v: _PLP_NULL if v is None else _plp(v.encode("utf-16-le"))
    if kind == "nvarchar":
        def nvarchar(v, pack=struct.Struct("<H").pack):
            if v is None:
                return b"\xff\xff"
            data = v.encode("utf-16-le")
            return pack(len(data)) + data
        return nvarchar
    if kind == "varbinary" and sql_type.length == MAX:
        return lambda v: _PLP_NULL if v is None else _plp(bytes(v))
    if kind == "varbinary":
        return lambda v: b"\xff\xff" if v is None else struct.pack("<H", len(v)) + bytes(v)
    if kind in _INT_SIZES:
        size = _INT_SIZES[kind]
        signed = kind != "tinyint"
        prefix = bytes([size])
        return lambda v: b"\x00" if v is None else prefix + int(v).to_bytes(size, "little", signed=signed)
    if kind == "bit":
        return lambda v: b"\x00" if v is None else (b"\x01\x01" if v else b"\x01\x00")
    if kind == "float":
        return lambda v: b"\x00" if v is None else b"\x08" + struct.pack("<d", float(v))
    if kind == "datetime":
        def encode_datetime(v: datetime) -> bytes:
            if v is None:
                return b"\x00"
            delta = v - _DAY_ZERO
            ticks = round((delta.seconds + delta.microseconds / 1e6) * 300)
            return b"\x08" + struct.pack("<iI", delta.days, ticks)
        return encode_datetime
    if kind == "numeric":
        size, scale = _numeric_size(sql_type.precision), sql_type.scale

        def encode_numeric(v: Any) -> bytes:
            if v is None:
                return b"\x00"
            scaled = int((Decimal(v) * (Decimal(10) ** scale)).to_integral_value())
            return bytes([size + 1, 1 if scaled >= 0 else 0]) + abs(scaled).to_bytes(size, "little")
        return encode_numeric
    raise ValueError(f"no TDS encoding for {sql_type}")


def row_encoder(types: Sequence[SqlType]) -> Callable[[Sequence[Any]], bytes]:
    """A function encoding one ROW token for columns of these types."""
    encoders = [value_encoder(sql_type) for sql_type in types]
    if len(encoders) == 1:
        only = encoders[0]
        return lambda row: b"\xd1" + only(row[0])
    return lambda row: b"\xd1" + b"".join([enc(v) for enc, v in zip(encoders, row)])
