"""The PRELOGIN probe that explains a failed login (adapters/prelogin.py): its packet and its reading."""

from __future__ import annotations

import struct

from precheck.adapters.prelogin import ENCRYPT_NOT_SUP, ENCRYPT_REQ, encryption_option, prelogin_request


def answer(options: list[tuple[int, bytes]]) -> bytes:
    table, data, offset = b"", b"", 5 * len(options) + 1
    for kind, value in options:
        table += struct.pack(">BHH", kind, offset + len(data), len(value))
        data += value
    body = table + b"\xff" + data
    return struct.pack(">BBHHBB", 0x04, 0x01, 8 + len(body), 0, 1, 0) + body


def test_the_request_is_a_prelogin_asking_for_encryption():
    """Type 0x12, last packet, its length in the header; VERSION then ENCRYPTION = ON (0x01); no login."""
    packet = prelogin_request()
    assert packet[:2] == b"\x12\x01" and int.from_bytes(packet[2:4], "big") == len(packet)
    assert packet[8:] == bytes.fromhex("00000b0006" "0100110001" "ff") + bytes(6) + b"\x01"


def test_the_encryption_option_is_read_wherever_the_server_puts_it():
    version = (0x00, bytes([16, 0, 0x07, 0xD0, 0, 0]))
    assert encryption_option(answer([version, (0x01, bytes([ENCRYPT_REQ]))])) == ENCRYPT_REQ
    assert encryption_option(answer([(0x01, bytes([ENCRYPT_NOT_SUP])), version])) == ENCRYPT_NOT_SUP
    assert encryption_option(answer([version])) is None
    assert encryption_option(b"\x04\x01\x00") is None and encryption_option(b"") is None
