"""PlainBuffer: the row encoding Tablestore carries inside its protobuf messages.

A complete reader (primary keys including ``INF_MIN``/``INF_MAX``, update cells with an operation type
and a timestamp, the row-delete marker, both checksums) and a writer for the rows the service returns.
The SDK's own reader cannot decode ``INF_MIN``/``INF_MAX`` keys nor update-row delete cells, so the
emulator does not use it.

Layout (all integers little-endian)::

    row      = header(int32 0x75) TAG_ROW_PK pk-cell* [TAG_ROW_DATA cell*] [TAG_DELETE_ROW_MARKER]
               TAG_ROW_CHECKSUM crc8
    cell     = TAG_CELL TAG_CELL_NAME int32-len name [TAG_CELL_VALUE int32-len variant]
               [TAG_CELL_TYPE op-byte] [TAG_CELL_TIMESTAMP int64] TAG_CELL_CHECKSUM crc8
    variant  = type-byte payload   (INTEGER/DOUBLE: 8 bytes, BOOLEAN: 1, STRING/BLOB: int32-len bytes,
                                    INF_MIN/INF_MAX/AUTO_INCREMENT: nothing)

Checksums are CRC-8 (polynomial 0x07). A cell's checksum covers its name, its value (type byte, then
the payload; a string's length as int32 first), its timestamp, then its operation type. The row
checksum chains every cell checksum, then one byte: 1 if the row carries a delete marker, else 0.

Python values: STRING ``str``, BINARY ``bytes``, INTEGER ``int``, DOUBLE ``float``, BOOLEAN ``bool``;
``INF_MIN``/``INF_MAX`` are the sentinels below.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = 0x75

TAG_ROW_PK = 0x01
TAG_ROW_DATA = 0x02
TAG_CELL = 0x03
TAG_CELL_NAME = 0x04
TAG_CELL_VALUE = 0x05
TAG_CELL_TYPE = 0x06
TAG_CELL_TIMESTAMP = 0x07
TAG_DELETE_ROW_MARKER = 0x08
TAG_ROW_CHECKSUM = 0x09
TAG_CELL_CHECKSUM = 0x0A

OP_DELETE_ALL_VERSION = 0x01
OP_DELETE_ONE_VERSION = 0x03
OP_INCREMENT = 0x04

VT_INTEGER = 0x00
VT_DOUBLE = 0x01
VT_BOOLEAN = 0x02
VT_STRING = 0x03
VT_NULL = 0x06
VT_BLOB = 0x07
VT_INF_MIN = 0x09
VT_INF_MAX = 0x0A
VT_AUTO_INCREMENT = 0x0B


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self):  # keep identity through pickling/copying
        return self._name


INF_MIN = _Sentinel("INF_MIN")
INF_MAX = _Sentinel("INF_MAX")
AUTO_INCREMENT = _Sentinel("AUTO_INCREMENT")


class PlainBufferError(ValueError):
    """The bytes are not a well-formed PlainBuffer row (the service answers OTSParameterInvalid)."""


def _make_crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return table


_CRC8 = _make_crc_table()


def crc_int8(crc: int, byte: int) -> int:
    return _CRC8[(crc ^ byte) & 0xFF]


def crc_bytes(crc: int, data: bytes) -> int:
    table = _CRC8
    for b in data:
        crc = table[(crc ^ b) & 0xFF]
    return crc


def crc_int32(crc: int, value: int) -> int:
    for i in range(4):
        crc = crc_int8(crc, (value >> (i * 8)) & 0xFF)
    return crc


def crc_int64(crc: int, value: int) -> int:
    for i in range(8):
        crc = crc_int8(crc, (value >> (i * 8)) & 0xFF)
    return crc


# ---------------------------------------------------------------------------------------------- data


@dataclass
class Cell:
    """One attribute cell of a row change or a returned row."""

    name: str
    value: object = None          # None when the cell carries no value (deletes)
    has_value: bool = False
    op: int | None = None         # None = put; OP_DELETE_ONE_VERSION / OP_DELETE_ALL_VERSION / OP_INCREMENT
    timestamp: int | None = None


@dataclass
class DecodedRow:
    primary_key: list[tuple[str, object]] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    delete_marker: bool = False


# ---------------------------------------------------------------------------------------------- reader


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def eof(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise PlainBufferError("data format is invalid.")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def peek(self) -> int | None:
        return None if self.pos >= len(self.data) else self.data[self.pos]

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PlainBufferError("Input encoded PK broken, length is shorter than expect.")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int32(self) -> int:
        return struct.unpack("<i", self.take(4))[0]

    def int64(self) -> int:
        return struct.unpack("<q", self.take(8))[0]

    def expect(self, tag: int) -> None:
        actual = self.byte()
        if actual != tag:
            raise PlainBufferError(f"Cell data broken, mismatch tag, actual tag({actual}), expect({tag}).")


def _read_variant(r: _Reader, end: int | None, crc: int) -> tuple[object, int]:
    """Read one variant (type byte + payload); returns (value, crc updated with it)."""
    vtype = r.byte()
    if vtype == VT_INTEGER:
        value = r.int64()
        crc = crc_int64(crc_int8(crc, VT_INTEGER), value)
    elif vtype == VT_DOUBLE:
        bits = r.int64()
        value = struct.unpack("<d", struct.pack("<q", bits))[0]
        crc = crc_int64(crc_int8(crc, VT_DOUBLE), bits)
    elif vtype == VT_BOOLEAN:
        raw = r.byte()
        value = raw != 0
        crc = crc_int8(crc_int8(crc, VT_BOOLEAN), 1 if value else 0)
    elif vtype in (VT_STRING, VT_BLOB):
        size = r.int32()
        raw = r.take(size)
        crc = crc_bytes(crc_int32(crc_int8(crc, vtype), size), raw)
        if vtype == VT_STRING:
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PlainBufferError("Value of column must be UTF8 encoding.") from exc
        else:
            value = raw
    elif vtype == VT_INF_MIN:
        value, crc = INF_MIN, crc_int8(crc, VT_INF_MIN)
    elif vtype == VT_INF_MAX:
        value, crc = INF_MAX, crc_int8(crc, VT_INF_MAX)
    elif vtype == VT_AUTO_INCREMENT:
        value, crc = AUTO_INCREMENT, crc_int8(crc, VT_AUTO_INCREMENT)
    else:
        raise PlainBufferError("data format is invalid, unknown variant type occured.")
    if end is not None and r.pos != end:
        raise PlainBufferError("Cell data broken, has more data in cell, but they can't be parsed.")
    return value, crc


def _read_name(r: _Reader, crc: int) -> tuple[str, int]:
    r.expect(TAG_CELL_NAME)
    size = r.int32()
    raw = r.take(size)
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlainBufferError("Invalid column name.") from exc
    return name, crc_bytes(crc, raw)


def _read_value_block(r: _Reader, crc: int) -> tuple[object, int]:
    r.expect(TAG_CELL_VALUE)
    length = r.int32()
    start = r.pos
    return _read_variant(r, start + length, crc)


def _expect_checksum(r: _Reader, tag: int, crc: int, missing: str) -> None:
    """Read a cell's or row's checksum (`tag`, then one crc8 byte) and compare it with `crc`, with the service's
    messages for a missing and for a mismatched checksum."""
    if r.peek() != tag:
        raise PlainBufferError(missing)
    r.byte()
    got = r.byte()
    if got != crc:
        raise PlainBufferError(f"Cell data broken, checksum is mismatch, {got}:{crc}")


def _read_pk_cell(r: _Reader) -> tuple[str, object, int]:
    r.expect(TAG_CELL)
    name, crc = _read_name(r, 0)
    if r.peek() != TAG_CELL_VALUE:
        raise PlainBufferError(f"Cell data broken, PK value cannot be NULL, name: {name}.")
    value, crc = _read_value_block(r, crc)
    _expect_checksum(r, TAG_CELL_CHECKSUM, crc, f"Invalid Column({name}): missing checksum.")
    return name, value, crc


def _read_attr_cell(r: _Reader) -> tuple[Cell, int]:
    r.expect(TAG_CELL)
    name, crc = _read_name(r, 0)
    cell = Cell(name=name)
    if r.peek() == TAG_CELL_VALUE:
        cell.value, crc = _read_value_block(r, crc)
        cell.has_value = True
    if r.peek() == TAG_CELL_TYPE:
        r.byte()
        cell.op = r.byte()
    if r.peek() == TAG_CELL_TIMESTAMP:
        r.byte()
        cell.timestamp = r.int64()
        crc = crc_int64(crc, cell.timestamp)
    if cell.op is not None:
        crc = crc_int8(crc, cell.op)
    _expect_checksum(r, TAG_CELL_CHECKSUM, crc, f"Invalid Column({name}): missing checksum.")
    return cell, crc


def _read_row_body(r: _Reader) -> DecodedRow:
    row = DecodedRow()
    row_crc = 0
    r.expect(TAG_ROW_PK)
    while r.peek() == TAG_CELL:
        name, value, cell_crc = _read_pk_cell(r)
        row.primary_key.append((name, value))
        row_crc = crc_int8(row_crc, cell_crc)
    if r.peek() == TAG_ROW_DATA:
        r.byte()
        while r.peek() == TAG_CELL:
            cell, cell_crc = _read_attr_cell(r)
            row.cells.append(cell)
            row_crc = crc_int8(row_crc, cell_crc)
    if r.peek() == TAG_DELETE_ROW_MARKER:
        r.byte()
        row.delete_marker = True
    row_crc = crc_int8(row_crc, 1 if row.delete_marker else 0)
    _expect_checksum(r, TAG_ROW_CHECKSUM, row_crc, "Invalid row: missing checksum.")
    return row


def _read_header(r: _Reader) -> None:
    header = r.int32()
    if header != HEADER:
        raise PlainBufferError(f"Cell data broken, mismatch header, actual: {header}, expect: {HEADER}.")


def decode_row(data: bytes) -> DecodedRow:
    """Decode one row (a primary key, a put/update/delete row change)."""
    r = _Reader(data)
    _read_header(r)
    row = _read_row_body(r)
    if not r.eof():
        raise PlainBufferError("data format is invalid.")
    return row


def decode_rows(data: bytes) -> list[DecodedRow]:
    """Decode a header followed by any number of rows (a GetRange answer)."""
    if not data:
        return []
    r = _Reader(data)
    _read_header(r)
    rows = []
    while not r.eof():
        rows.append(_read_row_body(r))
    return rows


def decode_column_value(data: bytes) -> object:
    """Decode a bare variant (a column condition's value: type byte + payload, no length prefix)."""
    r = _Reader(data)
    value, _ = _read_variant(r, None, 0)
    if not r.eof():
        raise PlainBufferError("data format is invalid.")
    return value


# ---------------------------------------------------------------------------------------------- writer


class _Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def byte(self, b: int) -> None:
        self.buf.append(b & 0xFF)

    def int32(self, v: int) -> None:
        self.buf += struct.pack("<i", v)

    def int64(self, v: int) -> None:
        self.buf += struct.pack("<q", v)


def _variant_bytes(value: object) -> bytes:
    """Serialise a value as type byte + payload."""
    if value is INF_MIN:
        return bytes([VT_INF_MIN])
    if value is INF_MAX:
        return bytes([VT_INF_MAX])
    if isinstance(value, bool):
        return bytes([VT_BOOLEAN, 1 if value else 0])
    if isinstance(value, int):
        return bytes([VT_INTEGER]) + struct.pack("<q", value)
    if isinstance(value, float):
        return bytes([VT_DOUBLE]) + struct.pack("<d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return bytes([VT_STRING]) + struct.pack("<i", len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        return bytes([VT_BLOB]) + struct.pack("<i", len(value)) + bytes(value)
    raise TypeError(f"unsupported value type {type(value).__name__}")


def _crc_chain(crc: int, value: object) -> int:
    """Fold a value's checksum contribution (type byte, then payload) into ``crc``."""
    if value is INF_MIN:
        return crc_int8(crc, VT_INF_MIN)
    if value is INF_MAX:
        return crc_int8(crc, VT_INF_MAX)
    if isinstance(value, bool):
        return crc_int8(crc_int8(crc, VT_BOOLEAN), 1 if value else 0)
    if isinstance(value, int):
        return crc_int64(crc_int8(crc, VT_INTEGER), value)
    if isinstance(value, float):
        return crc_int64(crc_int8(crc, VT_DOUBLE), struct.unpack("<q", struct.pack("<d", value))[0])
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return crc_bytes(crc_int32(crc_int8(crc, VT_STRING), len(raw)), raw)
    raw = bytes(value)
    return crc_bytes(crc_int32(crc_int8(crc, VT_BLOB), len(raw)), raw)


def _write_cell(w: _Writer, name: str, value: object, has_value: bool, op: int | None,
                timestamp: int | None) -> int:
    raw_name = name.encode("utf-8")
    w.byte(TAG_CELL)
    w.byte(TAG_CELL_NAME)
    w.int32(len(raw_name))
    w.buf += raw_name
    crc = crc_bytes(0, raw_name)
    if has_value:
        payload = _variant_bytes(value)
        w.byte(TAG_CELL_VALUE)
        w.int32(len(payload))
        w.buf += payload
        crc = _crc_chain(crc, value)
    if op is not None:
        w.byte(TAG_CELL_TYPE)
        w.byte(op)
    if timestamp is not None:
        w.byte(TAG_CELL_TIMESTAMP)
        w.int64(timestamp)
        crc = crc_int64(crc, timestamp)
    if op is not None:
        crc = crc_int8(crc, op)
    w.byte(TAG_CELL_CHECKSUM)
    w.byte(crc)
    return crc


def _write_row_body(w: _Writer, primary_key, cells, delete_marker: bool = False) -> None:
    row_crc = 0
    w.byte(TAG_ROW_PK)
    for name, value in primary_key:
        row_crc = crc_int8(row_crc, _write_cell(w, name, value, True, None, None))
    if cells:
        w.byte(TAG_ROW_DATA)
        for cell in cells:
            row_crc = crc_int8(row_crc, _write_cell(w, cell.name, cell.value, cell.has_value, cell.op,
                                                     cell.timestamp))
    if delete_marker:
        w.byte(TAG_DELETE_ROW_MARKER)
    row_crc = crc_int8(row_crc, 1 if delete_marker else 0)
    w.byte(TAG_ROW_CHECKSUM)
    w.byte(row_crc)


def encode_row(primary_key, cells=(), delete_marker: bool = False) -> bytes:
    """Encode one row: ``primary_key`` is a list of (name, value), ``cells`` a list of :class:`Cell`."""
    w = _Writer()
    w.int32(HEADER)
    _write_row_body(w, primary_key, list(cells), delete_marker)
    return bytes(w.buf)


def encode_rows(rows) -> bytes:
    """Encode a header followed by rows given as (primary_key, cells) pairs; empty input gives b''."""
    rows = list(rows)
    if not rows:
        return b""
    w = _Writer()
    w.int32(HEADER)
    for primary_key, cells in rows:
        _write_row_body(w, primary_key, list(cells))
    return bytes(w.buf)


def encode_column_value(value: object) -> bytes:
    """Encode a bare variant (type byte + payload)."""
    return _variant_bytes(value)
