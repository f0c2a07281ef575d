"""RPC requests (MS-TDS 2.2.6.6): procedure ids, parameters and their typed values, decoded from the payload.

Wire format only, like :mod:`~tds_emulator.protocol` (framing, PRELOGIN, LOGIN7, batches).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .protocol import ProtocolError, UnsupportedRequest, skip_all_headers

PROC_IDS = {1: "sp_cursor", 2: "sp_cursoropen", 3: "sp_cursorprepare", 4: "sp_cursorexecute",
            5: "sp_cursorprepexec", 6: "sp_cursorunprepare", 7: "sp_cursorfetch", 8: "sp_cursoroption",
            9: "sp_cursorclose", 10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute", 13: "sp_prepexec",
            14: "sp_prepexecrpc", 15: "sp_unprepare"}


# ---- RPC --------------------------------------------------------------------------------------------------
@dataclass
class RpcCall:
    name: str
    params: list[tuple[str | None, Any]] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError("truncated RPC request")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


_FIXED = {0x1F: 0, 0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x3A: 4, 0x3B: 4, 0x3C: 8, 0x3D: 8, 0x3E: 8, 0x7A: 4,
          0x7F: 8}
_BYTELEN = {0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24, 0x6A, 0x6C, 0x28, 0x29, 0x2A, 0x2B, 0x37, 0x3F}
_USHORTLEN = {0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF}
_COLLATED = {0xA7, 0xAF, 0xE7, 0xEF, 0x23, 0x63}
_LONGLEN = {0x23, 0x63, 0x22}
_DAY_ZERO = datetime(1900, 1, 1)


def _decode_fixed(type_id: int, raw: bytes) -> Any:
    if type_id in (0x30,):
        return raw[0]
    if type_id in (0x32,):
        return bool(raw[0])
    if type_id in (0x34, 0x38, 0x7F):
        return int.from_bytes(raw, "little", signed=True)
    if type_id == 0x3B:
        return struct.unpack("<f", raw)[0]
    if type_id == 0x3E:
        return struct.unpack("<d", raw)[0]
    if type_id == 0x3D:
        days, ticks = struct.unpack("<iI", raw)
        return _DAY_ZERO + timedelta(days=days, milliseconds=round(ticks * 10 / 3))
    if type_id == 0x3A:
        days, minutes = struct.unpack("<HH", raw)
        return _DAY_ZERO + timedelta(days=days, minutes=minutes)
    if type_id == 0x3C:
        high, low = struct.unpack("<iI", raw)
        return Decimal((high << 32) | low) / 10000
    if type_id == 0x7A:
        return Decimal(struct.unpack("<i", raw)[0]) / 10000
    return None


def _decode_bytelen(type_id: int, raw: bytes, info: tuple) -> Any:
    if type_id in (0x26,):
        return int.from_bytes(raw, "little", signed=len(raw) != 1)
    if type_id == 0x68:
        return bool(raw[0])
    if type_id == 0x6D:
        return struct.unpack("<f" if len(raw) == 4 else "<d", raw)[0]
    if type_id in (0x6A, 0x6C):
        sign, magnitude = raw[0], int.from_bytes(raw[1:], "little")
        value = Decimal(magnitude).scaleb(-info[1])
        return value if sign else -value
    if type_id == 0x6F:
        return _decode_fixed(0x3D if len(raw) == 8 else 0x3A, raw)
    if type_id == 0x6E:
        return _decode_fixed(0x3C if len(raw) == 8 else 0x7A, raw)
    if type_id == 0x24:
        return str(uuid.UUID(bytes_le=raw))
    if type_id == 0x28:
        return date(1, 1, 1) + timedelta(days=int.from_bytes(raw, "little"))
    if type_id in (0x29, 0x2A, 0x2B):
        scale = info[0]
        time_len = {0: 3, 1: 3, 2: 3, 3: 4, 4: 4}.get(scale, 5)
        units = int.from_bytes(raw[:time_len], "little")
        moment = timedelta(microseconds=units * 10 ** (6 - scale) if scale <= 6 else units // 10 ** (scale - 6))
        if type_id == 0x29:
            return (datetime.min + moment).time()
        day = date(1, 1, 1) + timedelta(days=int.from_bytes(raw[time_len:time_len + 3], "little"))
        return datetime.combine(day, time()) + moment
    return raw


def read_typed_value(reader: _Reader) -> Any:
    """Read TYPE_INFO then the value of one RPC parameter."""
    type_id = reader.u8()
    if type_id in _FIXED:
        return _decode_fixed(type_id, reader.take(_FIXED[type_id]))
    if type_id in _BYTELEN:
        info: tuple = ()
        if type_id in (0x6A, 0x6C):
            reader.u8()
            info = (reader.u8(), reader.u8())
        elif type_id in (0x29, 0x2A, 0x2B):
            info = (reader.u8(),)
        elif type_id != 0x28:
            reader.u8()  # max length
        length = reader.u8()
        if length == 0:
            return None
        return _decode_bytelen(type_id, reader.take(length), info)
    if type_id in _USHORTLEN:
        max_len = reader.unpack("<H")[0]
        if type_id in _COLLATED:
            reader.take(5)
        if max_len == 0xFFFF:
            raw = _read_plp(reader)
        else:
            length = reader.unpack("<H")[0]
            raw = None if length == 0xFFFF else reader.take(length)
        return _decode_chars(type_id, raw)
    if type_id in _LONGLEN:
        reader.unpack("<I")
        if type_id in _COLLATED:
            reader.take(5)
        length = reader.unpack("<I")[0]
        raw = None if length == 0xFFFFFFFF else reader.take(length)
        return _decode_chars(type_id, raw)
    raise UnsupportedRequest(f"unsupported RPC parameter type 0x{type_id:02X}")


def _read_plp(reader: _Reader) -> bytes | None:
    total = reader.unpack("<Q")[0]
    if total == 0xFFFFFFFFFFFFFFFF:
        return None
    chunks = []
    while True:
        size = reader.unpack("<I")[0]
        if size == 0:
            return b"".join(chunks)
        chunks.append(reader.take(size))


def _decode_chars(type_id: int, raw: bytes | None) -> Any:
    if raw is None:
        return None
    if type_id in (0xE7, 0xEF, 0x63):
        return raw.decode("utf-16-le", errors="replace")
    if type_id in (0xA7, 0xAF, 0x23):
        return raw.decode("utf-8", errors="replace")
    return bytes(raw)


def parse_rpc(payload: bytes) -> list[RpcCall]:
    reader = _Reader(payload, skip_all_headers(payload))
    calls: list[RpcCall] = []
    while not reader.at_end():
        name_len = reader.unpack("<H")[0]
        if name_len == 0xFFFF:
            proc_id = reader.unpack("<H")[0]
            name = PROC_IDS.get(proc_id, f"#proc{proc_id}")
        else:
            name = reader.take(name_len * 2).decode("utf-16-le")
        reader.unpack("<H")  # option flags
        call = RpcCall(name)
        calls.append(call)
        while not reader.at_end():
            if reader.data[reader.pos] in (0x80, 0xFF, 0xFE):  # batch separator
                reader.pos += 1
                break
            param_len = reader.u8()
            param_name = reader.take(param_len * 2).decode("utf-16-le") or None
            reader.u8()  # status flags
            call.params.append((param_name, read_typed_value(reader)))
    return calls
