"""`precheck store ...`: manage the result store.

  precheck store init [--store URL] [--runs-ttl-days N] [--events-ttl-days N]

`init` creates what the configured store (PRECHECK_STORE, or --store) needs and says what it found:
for `tablestore:` the three tables (idempotent: existing tables are kept, their TTL brought to the one
asked for), for `sqlite:` the database file and its schema. Run it again at will.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import UsageParser
from .settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_SAID = {"created": "created", "exists": "already existed", "updated": "already existed; TTL updated"}


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="precheck store", description="Manage the result store.", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the store's tables (idempotent)", allow_abbrev=False)
    init.add_argument("--store", metavar="URL", help="sqlite:///path.db or tablestore: (default: PRECHECK_STORE)")
    init.add_argument("--runs-ttl-days", type=float, default=90, metavar="N",
                      help="Tablestore: days a run is kept (0: forever; default 90)")
    init.add_argument("--events-ttl-days", type=float, default=7, metavar="N",
                      help="Tablestore: days an event's de-duplication key is kept (0: forever; default 7)")
    return parser


def _ttl(days: float) -> str:
    return "never expires" if not days else f"TTL {days:g} days"


def init(settings: Settings, runs_ttl_days: float, events_ttl_days: float) -> int:
    url = settings.store_url
    if settings.store_kind == "sqlite":
        from .adapters.sqlite_store import SqliteResultStore, path_of

        path = path_of(url)
        existed = path != ":memory:" and Path(path).exists()
        store = SqliteResultStore.from_url(url)  # opening it creates the schema
        store.close()
        print(f"sqlite store {store.path}: {'already existed; schema checked' if existed else 'created'}")
        return EXIT_OK
    from .adapters.tablestore import create_tables, parse_url

    connection, tables = parse_url(url, instance=settings.ots_instance, endpoint=settings.ots_endpoint,
                                   region=settings.ots_region, prefix=settings.ots_table_prefix,
                                   timeout_s=settings.ots_timeout_s)
    credentials = settings.credentials
    if credentials is None:
        raise ValueError("set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                         "(and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)")
    done = create_tables(connection.client(credentials), tables, runs_ttl_days=runs_ttl_days,
                         events_ttl_days=events_ttl_days)
    ttls = {tables.instances: 0, tables.runs: runs_ttl_days, tables.events: events_ttl_days}
    print(f"tablestore instance {connection.instance} at {connection.endpoint}:")
    for name, what in done.items():
        print(f"  {name}: {_SAID.get(what, what)} ({_ttl(ttls[name])})")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error argparse has already explained
        return int(exit.code or 0)
    if args.command == "init":
        from .ports import StoreError

        try:
            settings = Settings.from_environ()
            if args.store:
                settings = settings.with_(store_url=args.store)
            return init(settings, args.runs_ttl_days, args.events_ttl_days)
        except ValueError as error:  # SettingsError included: it names the variable
            print(f"precheck store: {error}", file=sys.stderr)
            return EXIT_USAGE
        except StoreError as error:
            print(f"precheck store: {error.message}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
