"""What a SQL Server says about encryption, asked with one PRELOGIN exchange: to explain a failed login.

FreeTDS reports every failure after the TCP connection with the same error (20002, "Adaptive Server
connection failed"): a server that offers no encryption to a client that requires it, a certificate that
does not validate, a broken TLS handshake (src/tds/login.c, tds71_do_login and tds_connect). When encryption
was asked for and the driver says only that, this module asks the server what it answered: PRELOGIN
(packet type 0x12) with VERSION and ENCRYPTION = ON, whose answer's ENCRYPTION option is 0x00 off,
0x01 on, 0x02 not supported, 0x03 required ([MS-TDS] 2.2.6.5). Then the connection is closed: no TLS, no
login, nothing secret is sent.
"""

from __future__ import annotations

import socket
import struct

ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0x00, 0x01, 0x02, 0x03
_PRELOGIN, _REPLY = 0x12, 0x04


def prelogin_request() -> bytes:
    """A PRELOGIN packet with VERSION (6 bytes) and ENCRYPTION = ON (1 byte), then the terminator."""
    options_length = 2 * 5 + 1
    body = (struct.pack(">BHH", 0x00, options_length, 6) + struct.pack(">BHH", 0x01, options_length + 6, 1)
            + b"\xff" + bytes([0, 0, 0, 0, 0, 0]) + bytes([ENCRYPT_ON]))
    return struct.pack(">BBHHBB", _PRELOGIN, 0x01, 8 + len(body), 0, 1, 0) + body


def encryption_option(packet: bytes) -> int | None:
    """The ENCRYPTION option of a PRELOGIN answer (header included), or None if it holds none."""
    if len(packet) < 8 or packet[0] != _REPLY:
        return None
    body = packet[8:]
    offset = 0
    while offset + 5 <= len(body) and body[offset] != 0xFF:
        kind, start, length = struct.unpack(">BHH", body[offset:offset + 5])
        if kind == 0x01 and length >= 1 and start < len(body):
            return body[start]
        offset += 5
    return None


def _packet(sock: socket.socket) -> bytes:
    """One TDS packet (header included); b"" when the server closed first."""
    packet = b""
    while len(packet) < 8 or len(packet) < int.from_bytes(packet[2:4], "big"):
        chunk = sock.recv(4096)
        if not chunk:
            return b""
        packet += chunk
    return packet


def _wrap(payload: bytes) -> bytes:
    return struct.pack(">BBHHBB", _PRELOGIN, 0x01, 8 + len(payload), 0, 1, 0) + payload


def server_encryption(address: tuple, family: int, timeout: float) -> int | None:
    """The server's answer to ENCRYPTION = ON, or None when it could not be read within `timeout`."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(max(timeout, 0.05))
            sock.connect(address)
            sock.sendall(prelogin_request())
            return encryption_option(_packet(sock))
    except OSError:
        return None


def certificate_problem(address: tuple, family: int, host: str, ca_file: str | None, timeout: float) -> str | None:
    """Why the server's certificate does not validate for `host` (against `ca_file`, or the system's CAs), as
    OpenSSL words it ("self-signed certificate", "Hostname mismatch, ..."); None when it validates or the
    question could not be asked. The TLS handshake travels in PRELOGIN packets, as TDS 7.x does it
    ([MS-TDS] 2.2.6.5); the connection is closed right after it, before any login. The chain is checked
    first, then the name (OpenSSL reports a name mismatch before an untrusted issuer)."""
    for check_hostname in (False, True):
        problem = _handshake(address, family, host, ca_file, timeout / 2, check_hostname)
        if problem:
            return problem
    return None


def _handshake(address: tuple, family: int, host: str, ca_file: str | None, timeout: float,
               check_hostname: bool) -> str | None:
    import ssl

    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.check_hostname = check_hostname
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=host)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(max(timeout, 0.05))
            sock.connect(address)
            sock.sendall(prelogin_request())
            if encryption_option(_packet(sock)) not in (ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_REQ):
                return None
            for _ in range(16):
                try:
                    tls.do_handshake()
                    return None
                except ssl.SSLWantReadError:
                    if outgoing.pending:
                        sock.sendall(_wrap(outgoing.read()))
                    packet = _packet(sock)
                    if not packet:
                        return None
                    incoming.write(packet[8:])
    except ssl.SSLCertVerificationError as error:
        return str(error.verify_message or error.reason or "certificate verify failed")
    except (ssl.SSLError, OSError):
        return None
    return None
