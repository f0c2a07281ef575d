"""Command line: ``tds-emulator --port PORT --catalog FILE.json [--host 127.0.0.1]`` (or ``python -m tds_emulator``).

Runs in the foreground, prints ``listening on HOST:PORT`` (flushed) once the port is bound, and stops
cleanly on SIGTERM or Ctrl-C (exit code 0).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from .catalog import Catalog, CatalogError
from .server import SqlServerEmulator


def build_parser(prog: str = "tds-emulator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="A SQL Server emulator that speaks TDS 7.x.")
    parser.add_argument("--catalog", required=True, help="catalog JSON file (logins, databases, faults)")
    parser.add_argument("--port", type=int, default=1433, help="TCP port; 0 picks a free one (default 1433)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--verbose", action="store_true", help="log connection errors to stderr")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "tds-emulator") -> int:
    """Run the emulator until SIGTERM/SIGINT. ``argv`` excludes the program name."""
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        catalog = Catalog.from_file(args.catalog)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emulator = SqlServerEmulator(catalog, host=args.host, port=args.port)
    try:
        emulator.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {}
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    print(f"listening on {emulator.host}:{emulator.port}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
