"""TDS packets and client requests (MS-TDS 2.2.1-2.2.6): framing, PRELOGIN, LOGIN7, SQL batch, RPC and
transaction-manager decoding (RPC in rpc.py), and a packet reader/writer over a socket.

Everything here is wire format; what a request *means* is the engine's business.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time as time_module
from collections import deque
from dataclasses import dataclass

# Packet types
SQL_BATCH, TDS5_LOGIN, RPC, REPLY, ATTENTION, BULK_LOAD, TRANSACTION_MANAGER = 0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x0E
LOGIN7, SSPI, PRELOGIN = 0x10, 0x11, 0x12
STATUS_EOM = 0x01

HEADER = struct.Struct(">BBHHBB")
DEFAULT_PACKET_SIZE = 4096
MAX_MESSAGE = 64 * 1024 * 1024

# PRELOGIN options
PL_VERSION, PL_ENCRYPTION, PL_INSTOPT, PL_THREADID, PL_MARS, PL_TERMINATOR = 0, 1, 2, 3, 4, 0xFF
ENCRYPT_NOT_SUP = 0x02

# Well-known RPC procedure ids (MS-TDS 2.2.6.6)

# Transaction-manager request types
TM_BEGIN_XACT, TM_COMMIT_XACT, TM_ROLLBACK_XACT, TM_SAVE_XACT = 5, 7, 8, 9


class ConnectionClosed(Exception):
    """The peer went away, the emulator is stopping, or the bytes made no sense."""


class ProtocolError(ConnectionClosed):
    """The request could not be decoded."""


class UnsupportedRequest(Exception):
    """A well-formed request the emulator does not implement (answered with an error, not a close)."""


# ---- PRELOGIN ---------------------------------------------------------------------------------------------
def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    pos = 0
    while pos < len(payload) and payload[pos] != PL_TERMINATOR:
        if pos + 5 > len(payload):
            raise ProtocolError("truncated PRELOGIN")
        token, offset, length = struct.unpack_from(">BHH", payload, pos)
        options[token] = payload[offset:offset + length]
        pos += 5
    return options


def prelogin_response(version: str, encryption: int = ENCRYPT_NOT_SUP, instance_valid: bool = True) -> bytes:
    """The server's PRELOGIN (MS-TDS 2.2.6.5): ``encryption`` as negotiated (tls.negotiate); INSTOPT 0x01 tells
    the client that the instance name it sent is not this server's."""
    major, minor, build = (int(p) for p in version.split(".")[:3])
    values = [
        (PL_VERSION, bytes([major & 0xFF, minor & 0xFF]) + struct.pack(">HH", build & 0xFFFF, 0)),
        (PL_ENCRYPTION, bytes([encryption])),
        (PL_INSTOPT, b"\x00" if instance_valid else b"\x01"),
        (PL_THREADID, b""),
        (PL_MARS, b"\x00"),
    ]
    offset = len(values) * 5 + 1
    head, data = bytearray(), bytearray()
    for token, value in values:
        head += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return bytes(head) + bytes([PL_TERMINATOR]) + bytes(data)


# ---- LOGIN7 -----------------------------------------------------------------------------------------------
@dataclass
class Login7:
    tds_version: int
    packet_size: int
    hostname: str
    username: str
    password: str
    app_name: str
    server_name: str
    library: str
    language: str
    database: str
    integrated_security: bool


def deobfuscate_password(data: bytes) -> str:
    plain = bytes((((b ^ 0xA5) << 4) & 0xF0) | ((b ^ 0xA5) >> 4) for b in data)
    return plain.decode("utf-16-le", errors="replace")


def parse_login7(payload: bytes) -> Login7:
    if len(payload) < 94:
        raise ProtocolError("truncated LOGIN7")
    tds_version, packet_size = struct.unpack_from("<II", payload, 4)
    option_flags2 = payload[25]

    def field_bytes(at: int) -> bytes:
        offset, chars = struct.unpack_from("<HH", payload, at)
        return payload[offset:offset + chars * 2]

    def text(at: int) -> str:
        return field_bytes(at).decode("utf-16-le", errors="replace")

    return Login7(tds_version=tds_version, packet_size=packet_size, hostname=text(36), username=text(40),
                  password=deobfuscate_password(field_bytes(44)), app_name=text(48), server_name=text(52),
                  library=text(60), language=text(64), database=text(68),
                  integrated_security=bool(option_flags2 & 0x80))


# ---- SQL batch, transaction manager -------------------------------------------------------------------------
def skip_all_headers(payload: bytes) -> int:
    """Offset just past the ALL_HEADERS block (TDS 7.2+), or 0 if the request carries none."""
    if len(payload) >= 4:
        total = struct.unpack_from("<I", payload, 0)[0]
        if 4 <= total <= len(payload) and (total == 4 or (total >= 10 and struct.unpack_from("<I", payload, 4)[0]
                                                           <= total - 4)):
            return total
    return 0


def parse_sql_batch(payload: bytes) -> str:
    return payload[skip_all_headers(payload):].decode("utf-16-le", errors="replace")


@dataclass
class TransactionRequest:
    kind: int
    begin_after: bool = False  # commit/rollback "and begin a new transaction"


def parse_transaction_request(payload: bytes) -> TransactionRequest:
    pos = skip_all_headers(payload)
    if pos + 2 > len(payload):
        raise ProtocolError("truncated transaction-manager request")
    kind = struct.unpack_from("<H", payload, pos)[0]
    pos += 2
    begin_after = False
    if kind in (TM_COMMIT_XACT, TM_ROLLBACK_XACT) and pos < len(payload):
        name_len = payload[pos]
        pos += 1 + name_len * 2
        if pos < len(payload):
            begin_after = bool(payload[pos] & 0x01)
    return TransactionRequest(kind, begin_after)


# ---- packet I/O -------------------------------------------------------------------------------------------
class PacketChannel:
    """Reads request messages and writes response packets on one socket.

    Every blocking call wakes up every ``poll`` seconds to notice ``stopping``; a peer that closes raises
    ConnectionClosed.
    """

    def __init__(self, sock: socket.socket, stopping: threading.Event, poll: float = 0.1):
        self.sock = sock
        self.stopping = stopping
        self.packet_size = DEFAULT_PACKET_SIZE
        self.spid = 0
        #: Monotonic time after which reads give up (set during the login phase, so that a client that stops
        #: half-way through PRELOGIN, the TLS handshake or LOGIN7 does not hold a thread).
        self.deadline: float | None = None
        self._pending: deque[tuple[int, bytes]] = deque()
        sock.settimeout(poll)

    # reading
    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            if self.stopping.is_set():
                raise ConnectionClosed("emulator stopping")
            if self.deadline is not None and _now() > self.deadline:
                raise ConnectionClosed("the client did not complete the login in time")
            try:
                chunk = self.sock.recv(n - len(buf))
            except TimeoutError:
                continue
            except OSError as exc:
                raise ConnectionClosed(str(exc)) from exc
            if not chunk:
                raise ConnectionClosed("peer closed")
            buf += chunk
        return bytes(buf)

    def _read_message(self) -> tuple[int, bytes]:
        payload = bytearray()
        while True:
            kind, status, length, _spid, _packet_id, _window = HEADER.unpack(self._recv_exact(8))
            if length < 8:
                raise ProtocolError("bad packet length")
            payload += self._recv_exact(length - 8)
            if len(payload) > MAX_MESSAGE:
                raise ProtocolError("request too large")
            if status & STATUS_EOM:
                return kind, bytes(payload)

    def read_message(self) -> tuple[int, bytes]:
        if self._pending:
            return self._pending.popleft()
        return self._read_message()

    def discard_until_closed(self) -> None:
        while True:
            self._recv_exact(1)

    def attention_arrived(self, wait: float = 0.0) -> bool:
        """True if an ATTENTION message arrives within ``wait`` seconds; other messages are kept for later."""
        deadline = _now() + wait
        while True:
            if self.stopping.is_set():
                raise ConnectionClosed("emulator stopping")
            remaining = deadline - _now()
            buffered = getattr(self.sock, "pending", None)  # TLS: bytes select() cannot see (tls.TlsTransport)
            try:
                ready = bool(buffered and buffered()) or select.select([self.sock], [], [],
                                                                        max(0.0, min(remaining, 0.05)))[0]
            except (OSError, ValueError) as exc:
                raise ConnectionClosed(str(exc)) from exc
            if ready:
                kind, payload = self._read_message()
                if kind == ATTENTION:
                    return True
                self._pending.append((kind, payload))
            elif remaining <= 0:
                return False

    # writing
    def send_message(self, payload: bytes, kind: int = REPLY) -> None:
        writer = ResponseWriter(self, kind)
        writer.write(payload)
        writer.finish()

    def send_packets(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.stopping.is_set():
                raise ConnectionClosed("emulator stopping")
            try:
                sent = self.sock.send(view)
            except TimeoutError:
                continue
            except OSError as exc:
                raise ConnectionClosed(str(exc)) from exc
            view = view[sent:]


def _now() -> float:
    return time_module.monotonic()


class Cancelled(Exception):
    """The client sent ATTENTION while the answer was being streamed."""


class ResponseWriter:
    """Buffers one response message and sends it as packets of the negotiated size.

    Full packets are flushed in groups while the message grows; between groups the writer checks for an
    ATTENTION from the client and raises Cancelled if one came.
    """

    GROUP = 16

    def __init__(self, channel: PacketChannel, kind: int = REPLY, check_attention: bool = False):
        self.channel = channel
        self.kind = kind
        self.check_attention = check_attention
        self.payload_size = channel.packet_size - 8
        self.buffer = bytearray()
        self.packet_id = 1

    def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > self.payload_size * self.GROUP:
            self._flush(final=False)
            if self.check_attention and self.channel.attention_arrived(0.0):
                raise Cancelled()

    def _packet(self, chunk: bytes, last: bool) -> bytes:
        header = HEADER.pack(self.kind, STATUS_EOM if last else 0, len(chunk) + 8, self.channel.spid,
                             self.packet_id & 0xFF, 0)
        self.packet_id += 1
        return header + chunk

    def _flush(self, final: bool) -> None:
        size, out = self.payload_size, []
        buf = self.buffer
        end = len(buf) if final else (len(buf) - 1) // size * size
        for start in range(0, end, size):
            chunk = bytes(buf[start:start + size])
            out.append(self._packet(chunk, final and start + size >= len(buf)))
        if final and not buf:
            out.append(self._packet(b"", True))
        del buf[:end]
        if out:
            self.channel.send_packets(b"".join(out))

    def finish(self) -> None:
        self._flush(final=True)

    def abandon(self) -> None:
        """Send what is buffered without ending the message (for the drop_mid_result fault)."""
        if self.buffer:
            self.channel.send_packets(self._packet(bytes(self.buffer), False))
            self.buffer.clear()

    def restart(self) -> None:
        """Drop what is buffered (after a cancel) and continue the same message."""
        self.buffer.clear()
