"""The JUnit export replaces exactly what XML 1.0 cannot hold (its Char production) with "?"."""

from __future__ import annotations

from precheck.exports import _x

#: XML 1.0's Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_ALLOWED = [(0x9, 0x9), (0xA, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF)]


def _is_char(code: int) -> bool:
    return any(low <= code <= high for low, high in _ALLOWED)


def test_every_code_point_is_kept_or_replaced_as_xml_says() -> None:
    text = "".join(map(chr, range(0x110000)))
    expected = "".join(chr(code) if _is_char(code) else "?" for code in range(0x110000))
    assert _x(text) == expected
