"""`precheck list`, `history`, `last`, `diff` and `fix`: the fleet and its runs, read through the HTTP API's
routes (the same the console and API Gateway serve), shown as tables (rich) or exported."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .report import EXIT_OK, exit_code, render


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


def need_rich() -> None:
    """`rich` is the `cli` extra: without it, a one-line usage error saying how to install it."""
    import importlib.util

    if importlib.util.find_spec("rich") is None:
        from .cli_session import UsageError

        raise UsageError("tables and live output need the rich package: pip install "
                         "'sqlserver-backup-precheck[cli]' (or --format json|csv)")


def console(file: Any = None) -> Any:  # a rich Console, imported lazily (the command line only)
    need_rich()
    from rich.console import Console

    # highlight off: values are shown as they are, never coloured by guessing what they look like
    return Console(file=file or sys.stdout, highlight=False, soft_wrap=False)


def when(epoch: float | None, now: float | None = None) -> str:
    """`2026-11-29 22:41:34 UTC (3 min ago)`."""
    if not epoch:
        return "-"
    stamp = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({age(epoch, now)})"


def age(epoch: float, now: float | None = None) -> str:
    seconds = max(0.0, (time.time() if now is None else now) - epoch)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def status_text(status: str | None) -> Any:
    """A status as a word with a symbol, coloured on a terminal (never by colour alone)."""
    need_rich()
    from rich.text import Text

    symbols = {"PASSED": "✓", "WARNING": "!", "FAILED": "✗", "ERROR": "✗", "TIMED_OUT": "⏱", "SKIPPED": "-",
               "PENDING": "…", "RUNNING": "…"}
    styles = {"PASSED": "green", "WARNING": "yellow", "FAILED": "bold red", "ERROR": "red", "TIMED_OUT": "red",
              "SKIPPED": "dim", "PENDING": "cyan", "RUNNING": "cyan"}
    if not status:
        return Text("never checked", style="dim")
    return Text(f"{symbols.get(status, '?')} {status}", style=styles.get(status, ""))


def _table(title: str, columns: list[str]):
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    import csv  # only --format csv needs it: `precheck check` does not import it

    out = io.StringIO()
    writer = csv.DictWriter(out, fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# --- list -------------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from .cli_session import UsageError, session

    if not 1 <= args.limit <= 10000:
        raise UsageError("--limit takes a number from 1 to 10000")
    opened = session()
    entries: list[dict[str, Any]] = []
    token: str | None = None
    while len(entries) < args.limit:
        query = {"limit": str(min(100, args.limit - len(entries)))}
        if args.region:
            query["region"] = args.region
        if args.status:
            query["status"] = args.status
        if token:
            query["next"] = token
        page = opened.get("/instances", query)
        entries.extend(page.get("instances", []))
        token = page.get("next")
        if not token:
            break
    if args.format == "json":
        print(json.dumps({"instances": entries}, indent=2, ensure_ascii=False))
        return EXIT_OK
    rows = [{"instance_id": entry["instance"]["instance_id"], "region": entry["instance"]["region"],
             "server": entry["instance"]["server"], "status": (entry.get("latest") or {}).get("status", ""),
             "run_id": (entry.get("latest") or {}).get("run_id", ""),
             "created_at": (entry.get("latest") or {}).get("created_at", ""),
             "changed": " ".join((entry.get("latest") or {}).get("changed") or [])} for entry in entries]
    if args.format == "csv":
        print(_csv(rows, ["instance_id", "region", "server", "status", "run_id", "created_at", "changed"]), end="")
        return EXIT_OK
    where = f" in {args.region}" if args.region else ""
    table = _table(f"{len(rows)} instance{'s' if len(rows) != 1 else ''}{where}",
                   ["INSTANCE", "REGION", "SERVER", "LATEST", "WHEN", "CHANGED"])
    for row in rows:
        table.add_row(row["instance_id"], row["region"], row["server"], status_text(row["status"]),
                      when(row["created_at"] or None), row["changed"] or "-")
    console().print(table)
    return EXIT_OK


# --- history ----------------------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    from .cli_session import UsageError, session

    if not 1 <= args.limit <= 100:
        raise UsageError("--limit takes a number from 1 to 100")
    opened = session()
    body = opened.get(_path("instances", args.instance_id, "prechecks"), {"limit": str(args.limit)})
    runs = body.get("runs", [])
    if args.format == "json":
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return EXIT_OK
    if args.format == "csv":
        rows = [{**run, "changed": " ".join(run.get("changed") or [])} for run in runs]
        print(_csv(rows, ["run_id", "status", "progress", "created_at", "finished_at", "trigger", "changed"]), end="")
        return EXIT_OK
    table = _table(f"Runs of {args.instance_id}, newest first", ["RUN", "STATUS", "STARTED", "TRIGGER", "CHANGED"])
    for run in runs:
        table.add_row(run["run_id"], status_text(run["status"]), when(run.get("created_at")), run.get("trigger", ""),
                      " ".join(run.get("changed") or []) or "-")
    console().print(table)
    if body.get("next"):
        print(f"(older runs exist: precheck history {args.instance_id} --limit N shows up to 100)")
    return EXIT_OK


# --- last -------------------------------------------------------------------------------------------------


def show_run(view: dict[str, Any], format: str, now: float | None = None) -> int:
    """A run as text (with when it ran and its age) or exported; the exit code says whether it blocks."""
    from .exports import export

    if format == "text":
        print(render(view))
        finished = max((item.get("finished_at") or 0 for item in view["items"] if item["status"] != "PENDING"),
                       default=0)
        took = f"; took {finished - view['created_at']:.1f} s" if view["status"] != "RUNNING" and finished else ""
        print(f"\nStarted {when(view['created_at'], now)}{took}.")
    else:
        print(export([view], format), end="" if format != "json" else "\n")
    return exit_code(view)


def cmd_last(args: argparse.Namespace) -> int:
    from .cli_session import Failed, session

    opened = session()
    status, view = opened.last_result(args.instance_id)
    if status != 200:
        raise Failed(str(view.get("error", f"HTTP {status}")))
    return show_run(view, args.format)


# --- diff and fix -----------------------------------------------------------------------------------------


def _run_id(opened: Any, instance_id: str, run_id: str | None) -> str:
    if run_id:
        return run_id
    from .cli_session import Failed

    status, view = opened.last_result(instance_id)
    if status != 200:
        raise Failed(str(view.get("error", f"HTTP {status}")))
    return str(view["run_id"])


def cmd_diff(args: argparse.Namespace) -> int:
    from .cli_session import session

    opened = session()
    run_id = _run_id(opened, args.instance_id, args.run_id)
    diff = opened.get(_path("instances", args.instance_id, "prechecks", run_id, "diff"))
    if args.format == "json":
        print(json.dumps(diff, indent=2, ensure_ascii=False))
        return EXIT_OK
    out = console()
    if not diff.get("previous_run_id"):
        out.print(f"Run {run_id} is the first run of {args.instance_id}: nothing to compare.")
        return EXIT_OK
    changed = diff.get("changed") or []
    out.print(f"Run {run_id} against {diff['previous_run_id']}: "
              + (f"{len(changed)} item{'s' if len(changed) != 1 else ''} changed" if changed else "nothing changed"))
    if changed:
        table = _table("", ["ITEM", "FROM", "TO", "APPEARED", "GONE"])
        for change in changed:
            table.add_row(change["item"], status_text(change.get("from")) if change.get("from") else "(not run)",
                          status_text(change["to"]), ", ".join(change.get("appeared") or []) or "-",
                          ", ".join(change.get("disappeared") or []) or "-")
        out.print(table)
    return EXIT_OK


def cmd_fix(args: argparse.Namespace) -> int:
    from .cli_session import session

    opened = session()
    run_id = _run_id(opened, args.instance_id, args.run)
    script = opened.get_text(_path("instances", args.instance_id, "prechecks", run_id, "fix.sql"))
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
    return EXIT_OK
