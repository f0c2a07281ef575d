"""Command line: ``tds-emulator --port PORT --catalog FILE.json [--host 127.0.0.1]`` (or ``python -m tds_emulator``).

Runs in the foreground, prints ``listening on HOST:PORT`` (flushed) once the port is bound, then
``certificate PATH`` when it speaks TLS and ``browser on HOST:PORT`` with ``--browser-port``, and stops
cleanly on SIGTERM or Ctrl-C (exit code 0). ``--encryption``, ``--cert-file``/``--key-file`` and
``--instance-name`` override the catalog's ``encryption``, ``certificate`` and ``instance_name``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from .catalog import ENCRYPTION_MODES, Catalog, CatalogError, connectivity_settings
from .server import SqlServerEmulator


def build_parser(prog: str = "tds-emulator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="A SQL Server emulator that speaks TDS 7.x.")
    parser.add_argument("--catalog", required=True, help="catalog JSON file (logins, databases, faults)")
    parser.add_argument("--port", type=int, default=1433, help="TCP port; 0 picks a free one (default 1433)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--encryption", choices=ENCRYPTION_MODES,
                        help="PRELOGIN encryption (overrides the catalog; default not_supported: no TLS)")
    parser.add_argument("--cert-file", help="PEM certificate to serve (default: a self-signed one made at start)")
    parser.add_argument("--key-file", help="PEM private key of --cert-file")
    parser.add_argument("--instance-name", help="instance name (overrides the catalog; default MSSQLSERVER)")
    parser.add_argument("--browser-port", type=int,
                        help="also answer SQL Server Browser requests on this UDP port (1434 is the real one)")
    parser.add_argument("--verbose", action="store_true", help="log connection errors to stderr")
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    changes: dict = {}
    if args.encryption:
        changes["encryption"] = args.encryption
    if bool(args.cert_file) != bool(args.key_file):
        raise CatalogError("--cert-file and --key-file go together")
    if args.cert_file:
        changes["certificate"] = {"cert_file": args.cert_file, "key_file": args.key_file}
    if args.instance_name:
        changes["instance_name"] = args.instance_name
    return changes


def main(argv: Sequence[str] | None = None, prog: str = "tds-emulator") -> int:
    """Run the emulator until SIGTERM/SIGINT. ``argv`` excludes the program name."""
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        catalog = Catalog.from_file(args.catalog)
        overrides = _overrides(args)
        if overrides:
            current = {"encryption": catalog.encryption, "instance_name": catalog.instance_name,
                       "certificate": None if catalog.certificate is None else
                       dict(zip(("cert_file", "key_file"), catalog.certificate))}
            catalog = dataclasses.replace(catalog, **connectivity_settings({**current, **overrides}))
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emulator = SqlServerEmulator(catalog, host=args.host, port=args.port, browser_port=args.browser_port)
    try:
        emulator.start()
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {}
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    print(f"listening on {emulator.host}:{emulator.port}", flush=True)
    if emulator.tls is not None:
        print(f"certificate {emulator.certificate_path}", flush=True)
    if emulator.browser is not None:
        print(f"browser on {emulator.browser.address}", flush=True)
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
