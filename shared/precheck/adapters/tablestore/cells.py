"""How outcomes and event keys are laid out in Tablestore cells (no SDK here: names and bytes only).

Outcomes: item `x` is column `o_x` (items that are not `[A-Za-z0-9_]{1,200}` get `h_<sha256>`; the item
is read back from the outcome itself). The column is a STRING holding either the outcome's JSON (up to
`inline_bytes`, 256 KB by default: readable in the console) or, for a larger outcome, the manifest
`zlib:<nonce>:<chunks>`: the JSON compressed with zlib and split into BINARY columns
`co_x_<nonce>_<i>` of at most `chunk_bytes` (1.9 MB; a cell holds 2 MB). Manifest and chunks go in the
same write while they fit one (`write_bytes`, 3.8 MB; a write holds 4 MB); beyond that the chunks are
staged by earlier writes and the manifest, written last, is the completion marker: chunks no manifest
names are never read. An outcome is never rejected for its size.

Events: the events table's key is the event's key, hashed when it would not fit a primary key (1 KB).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Any

MAX_KEY_BYTES = 1024
OUTCOME_PREFIXES = ("o_", "h_")

_SAFE_ITEM = re.compile(r"^[A-Za-z0-9_]{1,200}$")
_MANIFEST = re.compile(r"^zlib:([0-9a-f]{8}):([0-9]{1,6})$")

Cell = tuple[str, Any]


def event_key(key: str) -> str:
    """The events table's key: the key itself, or `sha256:<hex>` when it would exceed the 1 KB key limit
    (keys that start with `sha256:` are hashed too, so the two forms cannot collide)."""
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES - 24 and not key.startswith("sha256:"):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def outcome_column(item: str) -> str:
    """The column that holds `item`'s outcome (its JSON, or the manifest of its chunks)."""
    if _SAFE_ITEM.match(item):
        return "o_" + item
    return "h_" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:40]


def is_outcome_column(name: str) -> bool:
    return name.startswith(OUTCOME_PREFIXES)


def columns_of(row: Any) -> dict[str, Any]:
    """A row's attribute columns by name (an absent row has none)."""
    if row is None:
        return {}
    return {name: value for name, value, *_ in row.attribute_columns}


def chunk_cells(column: str, encoded: bytes, nonce: str, chunk_bytes: int) -> tuple[Cell, list[Cell]]:
    """The manifest cell and the chunk cells of an outcome too large to be held inline."""
    packed = zlib.compress(encoded, 6)
    chunks: list[Cell] = [(_chunk_name(column, nonce, n), bytearray(packed[offset:offset + chunk_bytes]))
                          for n, offset in enumerate(range(0, len(packed), chunk_bytes))]
    return (column, f"zlib:{nonce}:{len(chunks)}"), chunks


def chunk_names(column: str, manifest: str) -> list[str] | None:
    """The chunk columns a manifest names, in order; None if `manifest` is not one."""
    match = _MANIFEST.match(manifest)
    if not match:
        return None
    return [_chunk_name(column, match[1], n) for n in range(int(match[2]))]


def unpack(names: list[str], columns: dict[str, Any]) -> bytes:
    """The outcome's JSON from its chunks (KeyError if one is missing, zlib.error if they are damaged)."""
    return zlib.decompress(b"".join(bytes(columns[name]) for name in names))


def write_groups(cells: list[Cell], budget: int) -> list[list[Cell]]:
    """`cells` in order, grouped so that each group fits one write of `budget` bytes (a cell alone may not)."""
    groups: list[list[Cell]] = [[]]
    size = 0
    for cell in cells:
        cost = len(cell[0]) + len(cell[1]) + 64
        if groups[-1] and size + cost > budget:
            groups.append([])
            size = 0
        groups[-1].append(cell)
        size += cost
    return groups


def _chunk_name(column: str, nonce: str, n: int) -> str:
    return f"c{column}_{nonce}_{n}"
