"""How outcomes and event keys are laid out in Tablestore cells (no SDK here: names and bytes only).

Outcomes: item `x` is column `o_x` (items that are not `[A-Za-z0-9_]{1,200}` get `h_<sha256>`; the item
is read back from the outcome itself). The column is a STRING holding the outcome's JSON, at most
`models.MAX_OUTCOME_BYTES` (100 KB; a String attribute value may hold 2 MB and an UpdateRow carry 4 MB:
"Limits on the Wide Column model", https://www.alibabacloud.com/help/en/tablestore/limits-on-widecolumn-model
and https://alibabacloud.com/help/zh/tablestore/general-limits-of-tablestore): a larger outcome is refused
before any write (`records.encode_outcome`), so an outcome is always one cell written by one conditional
write, never split across writes that a retry could leave half done.

Events: the events table's key is the event's key, hashed when it would not fit a primary key (1 KB).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

MAX_KEY_BYTES = 1024
OUTCOME_PREFIXES = ("o_", "h_")

_SAFE_ITEM = re.compile(r"^[A-Za-z0-9_]{1,200}$")

Cell = tuple[str, Any]


def event_key(key: str) -> str:
    """The events table's key: the key itself, or `sha256:<hex>` when it would exceed the 1 KB key limit
    (keys that start with `sha256:` are hashed too, so the two forms cannot collide)."""
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES - 24 and not key.startswith("sha256:"):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def outcome_column(item: str) -> str:
    """The column that holds `item`'s outcome (its JSON)."""
    if _SAFE_ITEM.match(item):
        return "o_" + item
    return "h_" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:40]


def is_outcome_column(name: str) -> bool:
    return name.startswith(OUTCOME_PREFIXES)


def item_of(column: str) -> str:
    """The item an outcome column is named after; "" for a hashed name (the outcome itself says)."""
    return column[2:] if column.startswith("o_") else ""


def columns_of(row: Any) -> dict[str, Any]:
    """A row's attribute columns by name (an absent row has none)."""
    if row is None:
        return {}
    return {name: value for name, value, *_ in row.attribute_columns}
