"""`precheck events [--follow] [--last N] [--json] [--file PATH]`: the run events of the local sink.

Reads the JSON Lines file the `file` sink writes (PRECHECK_EVENTS_FILE, else events.jsonl in PRECHECK_HOME),
one line per event: when, instance, run, status (and the previous run's), what changed. `--json` prints the
events themselves, one per line, as a consumer would take them. `--follow` keeps printing events as they
are written, like `tail -f`, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

POLL_S = 0.5


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    events = commands.add_parser("events", parents=parents,
                                 help="the run events of the local sink (--follow)")
    events.add_argument("--follow", "-f", action="store_true", help="keep printing events as runs finish")
    events.add_argument("--last", type=_count, default=20, metavar="N",
                        help="start with the last N events (default 20; 0: all)")
    events.add_argument("--json", action="store_true", help="the events themselves, one JSON object per line")
    events.add_argument("--file", metavar="PATH", help="another events file (default: PRECHECK_EVENTS_FILE, "
                                                       "else events.jsonl in PRECHECK_HOME)")


def _count(raw: str) -> int:
    if not raw.isdigit():
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more")
    return int(raw)


def describe(event: dict[str, Any]) -> str:
    """One line for a person: time, instance, run, status (was), the changed items."""
    found = event.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    status = str(data.get("status", "?"))
    previous = data.get("previous_status")
    line = f"{event.get('time', '?')}  {data.get('instance_id', event.get('subject', '?'))}  " \
           f"{data.get('run_id', event.get('id', '?'))}  {status}"
    if previous and previous != status:
        line += f" (was {previous})"
    changes = []
    for change in data.get("changed") or []:
        if not isinstance(change, dict):
            continue
        text = f"{change.get('item')} {change.get('from') or 'new'}->{change.get('to')}"
        names = [f"+{name}" for name in change.get("appeared") or []] + \
                [f"-{name}" for name in change.get("disappeared") or []]
        changes.append(text + (f" ({' '.join(names[:5])}{' ...' if len(names) > 5 else ''})" if names else ""))
    if changes:
        line += "  changed: " + "; ".join(changes)
    if data.get("console_url"):
        line += f"  {data['console_url']}"
    return line


def cmd_events(args: argparse.Namespace) -> int:
    from .adapters.event_sinks import read_events
    from .settings import Settings, SettingsError

    try:
        path = Path(args.file) if args.file else Settings.from_environ().events_path
    except SettingsError as error:
        print(f"precheck: configuration: {error}", file=sys.stderr)
        return 2
    if not args.follow and not path.exists():
        print(f"no events yet ({path} does not exist): they are written as runs finish", file=sys.stderr)
        return 0
    events, offset = read_events(path)
    shown = events[-args.last:] if args.last else events
    while True:
        for event in shown:
            print(json.dumps(event, ensure_ascii=False) if args.json else describe(event), flush=True)
        if not args.follow:
            return 0
        time.sleep(POLL_S)
        shown, offset = read_events(path, offset)
