"""A run as people read it: the text table the command line prints, and the exit code it ends with; the
command line's argument parser, whose usage errors never repeat what was typed."""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from .models import ItemStatus

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

#: argparse's messages that quote what was typed: "invalid float value: 'x'", "invalid choice: 'x' (choose
#: from ...)", "unrecognized arguments: a b", "ignored explicit argument 'x'". Patterns, not compiled at import:
#: re compiles (and caches) them on a usage error's first message, which a valid command never shows (~0.3 ms)
_QUOTED_VALUE = r"(invalid [\w ]*?(?:value|choice)): .*?( \(choose from .*)?$"
_TRAILING_VALUES = r"(unrecognized arguments|ignored explicit argument)\b.*$"


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors name the argument and the rule, never the value: a password
    typed in the wrong place (`--server 'db;PWD=...'`, `--timeout PASSWORD`) must not be echoed."""

    def error(self, message: str) -> NoReturn:
        super().error(without_values(message))


def without_values(message: str) -> str:
    message = re.sub(_QUOTED_VALUE, lambda found: f"{found[1]} (the value is not shown){found[2] or ''}", message,
                     flags=re.S)
    return re.sub(_TRAILING_VALUES, lambda found: f"{found[1]} (not shown: values may be secrets)", message,
                  flags=re.S)


def exit_code(view: dict[str, Any]) -> int:
    """1 when an item blocks a backup (FAILED, ERROR, TIMED_OUT: `ItemStatus.blocks_backup`), else 0."""
    blocking = any(ItemStatus(item["status"]).blocks_backup for item in view["items"])
    return EXIT_FINDINGS if blocking else EXIT_OK


def render(view: dict[str, Any], affected_limit: int = 20) -> str:
    lines = [f"Precheck of {view['instance_id']} (run {view['run_id']}): {view['status']} ({view['progress']}%)", ""]
    width = max([len(item["item"]) for item in view["items"]] + [4])
    lines.append(f"{'ITEM':<{width}}  {'STATUS':<9}  {'TIME':>7}  MESSAGE")
    for item in view["items"]:
        lines.append(f"{item['item']:<{width}}  {item['status']:<9}  {item['duration_ms']:>5}ms  {item['message']}")
        affected = item.get("affected") or []
        if affected:
            shown = "state" if item["item"] == "database_status" else "recovery_model"
            # why it is named, in the item's words, when the item says (reason); else its state or recovery model
            names = ", ".join(f"{db['name']!r} ({db.get('reason') or db.get(shown)})"
                              for db in affected[:affected_limit])
            more = len(affected) - affected_limit + item.get("affected_omitted", 0)
            lines.append(f"{'':<{width}}  affected: {names}" + (f" and {more} more" if more > 0 else ""))
        if item.get("advice") and item["status"] not in (ItemStatus.PASSED.value, ItemStatus.SKIPPED.value):
            lines.append(f"{'':<{width}}  advice: {item['advice']}")
    return "\n".join(lines)
