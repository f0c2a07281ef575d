"""TLS the way SQL Server does it: the PRELOGIN ENCRYPTION negotiation, the TDS 7.x handshake carried
inside PRELOGIN packets, and TDS 8.0 "strict" (TLS before any TDS byte).

MS-TDS 2.2.6.5 (PRELOGIN): the ENCRYPTION option is ENCRYPT_OFF 0x00 (available, off), ENCRYPT_ON 0x01,
ENCRYPT_NOT_SUP 0x02, ENCRYPT_REQ 0x03 (bit 0x80, ENCRYPT_CLIENT_CERT, is ignored here). "In TDS 7.x, this
message stream is also used to wrap the SSL handshake payload": after the PRELOGIN exchange the client sends
its TLS records as the payload of PRELOGIN (0x12) packets and the server answers the same way (python-tds
checks the type); once the handshake is done, TLS records travel raw on the socket and carry TDS packets.
When both sides said OFF only the LOGIN7 message is encrypted and the session goes on in clear (clients
drop TLS without a close_notify: FreeTDS tds_ssl_deinit, python-tds revert_to_clear).

The server's answer follows MS-TDS 2.2.6.5's negotiation table (client setting x server setting):

=================  ===============  ===============  ==============  ===============
client \\ server    off              on               required        not_supported
=================  ===============  ===============  ==============  ===============
OFF                OFF: login only  ON: all          REQ: all        NOT_SUP: none
ON / REQ           ON: all          ON: all          REQ: all        NOT_SUP (client quits)
NOT_SUP            NOT_SUP: none    REQ, terminated  REQ, terminated NOT_SUP: none
=================  ===============  ===============  ==============  ===============

TLS 1.3 needs TDS 8.0: in TDS 7.x the emulator offers TLS 1.2 at most, as SQL Server does (a TLS 1.3
server would send session tickets after the client's last handshake flight, which TDS 7.x clients read as
TDS). Strict mode (MS-TDS 3.3.5.1 for TDS 8.0) takes TLS 1.2 or 1.3 with ALPN "tds/8.0".
"""

from __future__ import annotations

import select
import shutil
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import protocol as p
from .certificates import ServerCertificate, self_signed

if TYPE_CHECKING:
    from .catalog import Catalog

ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0x00, 0x01, 0x02, 0x03
#: What a negotiation leads to.
NONE, LOGIN_ONLY, ALL, REFUSE = "none", "login_only", "all", "refuse"
ALPN_TDS8 = "tds/8.0"
_RECORD = 16 * 1024 + 256


class HandshakeFailed(p.ConnectionClosed):
    """The TLS handshake failed or did not finish in time."""


def negotiate(mode: str, client_option: bytes | None) -> tuple[int, str]:
    """The server's ENCRYPTION answer and what follows (NONE, LOGIN_ONLY, ALL or REFUSE) for the client's
    PRELOGIN ENCRYPTION option (absent = not supported). See the table in the module docstring."""
    client = (client_option[0] & 0x7F) if client_option else ENCRYPT_NOT_SUP
    if client not in (ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ):
        client = ENCRYPT_NOT_SUP
    if mode == "not_supported":
        return ENCRYPT_NOT_SUP, NONE
    if mode == "off":
        if client == ENCRYPT_NOT_SUP:
            return ENCRYPT_NOT_SUP, NONE
        return (ENCRYPT_OFF, LOGIN_ONLY) if client == ENCRYPT_OFF else (ENCRYPT_ON, ALL)
    if client == ENCRYPT_NOT_SUP:  # "connection terminated": say that encryption is required, then close
        return ENCRYPT_REQ, REFUSE
    return (ENCRYPT_REQ if mode in ("required", "strict") else ENCRYPT_ON), ALL


def server_context(cert_file: str | Path, key_file: str | Path, strict: bool = False) -> ssl.SSLContext:
    """An SSLContext serving ``cert_file``: TLS 1.2 only for TDS 7.x, TLS 1.2-1.3 with ALPN tds/8.0 for
    strict. No session tickets (nothing may follow the handshake's last flight in TDS 7.x)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_file), str(key_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3 if strict else ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_TICKET
    if hasattr(context, "num_tickets"):
        context.num_tickets = 0
    if strict:
        context.set_alpn_protocols([ALPN_TDS8])
    return context


@dataclass
class ServerTls:
    """The emulator's certificate and its SSL contexts (TDS 7.x and strict)."""

    certificate: ServerCertificate
    context: ssl.SSLContext
    strict_context: ssl.SSLContext
    made_in: str | None = None  # the temporary directory of a generated certificate, removed by close()

    @classmethod
    def prepare(cls, configured: tuple[str, str] | None, host: str) -> ServerTls:
        """Use the catalog's certificate, or make a self-signed one for ``host``, localhost and 127.0.0.1."""
        made_in = None
        if configured is not None:
            certificate = ServerCertificate(Path(configured[0]), Path(configured[1]))
        else:
            hosts = [host] if host not in ("0.0.0.0", "::", "") else [socket.gethostname()]
            made_in = tempfile.mkdtemp(prefix="tds-emulator-cert-")
            certificate = self_signed(hosts + ["localhost", "127.0.0.1"], made_in)
        return cls(certificate, server_context(certificate.cert_file, certificate.key_file),
                   server_context(certificate.cert_file, certificate.key_file, strict=True), made_in)

    def close(self) -> None:
        if self.made_in is not None:
            shutil.rmtree(self.made_in, ignore_errors=True)


def pre_login(channel: p.PacketChannel, sock: socket.socket, catalog: Catalog,
              server_tls: ServerTls | None) -> tuple[int, bytes] | None:
    """Everything before LOGIN7 is handled: strict TLS, PRELOGIN and its answer, the TLS handshake. Returns
    the next message (LOGIN7, read through TLS when negotiated) or None to close the connection. Bounded by
    ``channel.deadline``."""
    mode = catalog.encryption
    if mode == "strict":  # TDS 8.0: TLS before any TDS packet; a TDS 7.x client is closed
        assert server_tls is not None and channel.deadline is not None
        if not starts_with_tls(sock, channel.stopping, channel.deadline):
            return None
        channel.sock = handshake_strict(sock, server_tls.strict_context, channel.stopping, channel.deadline)
    kind, payload = channel.read_message()
    if kind != p.PRELOGIN:  # no PRELOGIN, so no TLS: a server that wants encryption refuses the client
        return None if mode in ("on", "required") else (kind, payload)
    options = p.parse_prelogin(payload)
    if mode == "strict":  # already inside TLS: nothing more to negotiate
        answer, scope = ENCRYPT_NOT_SUP, NONE
    else:
        answer, scope = negotiate(mode, options.get(p.PL_ENCRYPTION))
    instance = options.get(p.PL_INSTOPT, b"").split(b"\x00", 1)[0].decode("latin-1")
    valid = instance.upper() in ("", "MSSQLSERVER", catalog.instance_name.upper())
    channel.send_message(p.prelogin_response(catalog.version, answer, valid))
    if scope == REFUSE:
        return None
    if scope in (LOGIN_ONLY, ALL):
        assert server_tls is not None
        channel.sock = handshake_in_prelogin(channel, sock, server_tls.context)
    message = channel.read_message()
    if scope == LOGIN_ONLY:  # MS-TDS 2.2.6.5: only LOGIN7 is encrypted; the session goes on in clear
        channel.sock = sock
    return message


class TlsTransport:
    """The socket-like object ``PacketChannel`` reads and writes once TLS is on: TDS bytes in, TLS records
    out on the raw socket. Timeouts come from the raw socket (``recv`` raises TimeoutError like a socket)."""

    def __init__(self, sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                 stopping: threading.Event):
        self.raw, self.tls, self.incoming, self.outgoing, self.stopping = sock, tls, incoming, outgoing, stopping

    def fileno(self) -> int:
        return self.raw.fileno()

    def pending(self) -> bool:
        """Decrypted or still-encrypted bytes already read from the socket (``select`` cannot see them)."""
        return self.tls.pending() > 0 or self.incoming.pending > 0

    def recv(self, n: int) -> bytes:
        while True:
            try:
                return self.tls.read(n)
            except ssl.SSLWantReadError:
                data = self.raw.recv(_RECORD)  # TimeoutError propagates: the caller polls
                if not data:
                    return b""
                self.incoming.write(data)
            except ssl.SSLZeroReturnError:  # close_notify
                return b""

    def send(self, data: bytes | memoryview) -> int:
        written = self.tls.write(bytes(data))
        send_all(self.raw, self.outgoing.read(), self.stopping)
        return written


def send_all(sock: socket.socket, data: bytes, stopping: threading.Event, deadline: float | None = None) -> None:
    view = memoryview(data)
    while view:
        if stopping.is_set() or (deadline is not None and time.monotonic() > deadline):
            raise p.ConnectionClosed("emulator stopping or peer not reading")
        try:
            view = view[sock.send(view):]
        except TimeoutError:
            continue
        except OSError as exc:
            raise p.ConnectionClosed(str(exc)) from exc


def _session(sock: socket.socket, context: ssl.SSLContext, stopping: threading.Event) -> TlsTransport:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return TlsTransport(sock, context.wrap_bio(incoming, outgoing, server_side=True), incoming, outgoing, stopping)


def handshake_in_prelogin(channel: p.PacketChannel, sock: socket.socket, context: ssl.SSLContext) -> TlsTransport:
    """Run the server side of the TDS 7.x handshake: client records arrive as PRELOGIN messages, ours leave
    as PRELOGIN packets. Returns the transport to put on ``channel`` (all later traffic is TLS records)."""
    transport = _session(sock, context, channel.stopping)
    while True:
        try:
            transport.tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        except ssl.SSLError as exc:
            _send_alert(channel, transport)
            raise HandshakeFailed(f"TLS handshake failed: {exc}") from exc
        flight = transport.outgoing.read()
        if flight:
            channel.send_message(flight, kind=p.PRELOGIN)
        if done:
            return transport
        kind, payload = channel.read_message()  # the channel's deadline bounds the wait
        if kind != p.PRELOGIN:
            raise HandshakeFailed(f"expected a PRELOGIN packet carrying TLS, got type 0x{kind:02X}")
        transport.incoming.write(payload)


def _send_alert(channel: p.PacketChannel, transport: TlsTransport) -> None:
    alert = transport.outgoing.read()
    if alert:
        try:
            channel.send_message(alert, kind=p.PRELOGIN)
        except p.ConnectionClosed:
            pass


def _readable(sock, timeout: float) -> bool:
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return True
    try:
        return bool(select.select([sock], [], [], timeout)[0])
    except (OSError, ValueError) as exc:
        raise p.ConnectionClosed(str(exc)) from exc


def starts_with_tls(sock: socket.socket, stopping: threading.Event, deadline: float) -> bool:
    """Whether the first byte the client sends is a TLS handshake record (0x16), as TDS 8.0 clients send,
    rather than a TDS packet type (PRELOGIN is 0x12). Waits for that byte without consuming it."""
    while True:
        if stopping.is_set():
            raise p.ConnectionClosed("emulator stopping")
        if time.monotonic() >= deadline:
            raise HandshakeFailed("the client sent nothing")
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            continue
        except OSError as exc:
            raise p.ConnectionClosed(str(exc)) from exc
        if not first:
            raise p.ConnectionClosed("peer closed")
        return first[0] == 0x16


def handshake_strict(sock: socket.socket, context: ssl.SSLContext, stopping: threading.Event,
                     deadline: float) -> TlsTransport:
    """TDS 8.0: the TLS handshake runs raw on the socket before any TDS packet (ALPN tds/8.0)."""
    transport = _session(sock, context, stopping)
    while True:
        try:
            transport.tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        except ssl.SSLError as exc:
            try:
                send_all(sock, transport.outgoing.read(), stopping, deadline)
            except p.ConnectionClosed:
                pass
            raise HandshakeFailed(f"TLS handshake failed: {exc}") from exc
        send_all(sock, transport.outgoing.read(), stopping, deadline)
        if done:
            return transport
        while not _readable(sock, 0.1):
            if stopping.is_set():
                raise p.ConnectionClosed("emulator stopping")
            if time.monotonic() >= deadline:
                raise HandshakeFailed("the client did not finish the TLS handshake in time")
        try:
            data = sock.recv(_RECORD)
        except TimeoutError:
            continue
        except OSError as exc:
            raise p.ConnectionClosed(str(exc)) from exc
        if not data:
            raise p.ConnectionClosed("peer closed during the TLS handshake")
        transport.incoming.write(data)
