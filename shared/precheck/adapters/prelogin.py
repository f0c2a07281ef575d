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


def server_encryption(address: tuple, family: int, timeout: float) -> int | None:
    """The server's answer to ENCRYPTION = ON, or None when it could not be read within `timeout`."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(max(timeout, 0.05))
            sock.connect(address)
            sock.sendall(prelogin_request())
            packet = b""
            while len(packet) < 8 or len(packet) < int.from_bytes(packet[2:4], "big"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                packet += chunk
            return encryption_option(packet)
    except OSError:
        return None
