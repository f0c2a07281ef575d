"""A run as people read it: the text table the command line prints, and the exit code it ends with."""

from __future__ import annotations

from typing import Any

from .models import ItemStatus

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


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
            names = ", ".join(f"{db['name']!r} ({db.get(shown)})" for db in affected[:affected_limit])
            more = len(affected) - affected_limit + item.get("affected_omitted", 0)
            lines.append(f"{'':<{width}}  affected: {names}" + (f" and {more} more" if more > 0 else ""))
        if item.get("advice") and item["status"] not in (ItemStatus.PASSED.value, ItemStatus.SKIPPED.value):
            lines.append(f"{'':<{width}}  advice: {item['advice']}")
    return "\n".join(lines)
