"""Command line: ``tablestore-emulator --port 0`` (or ``python -m tablestore_emulator``).

The first line printed is exactly ``listening on http://HOST:PORT``; the process serves until SIGTERM
or Ctrl-C, then stops cleanly (saving ``--data``) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_INSTANCE


def build_parser(prog: str = "tablestore-emulator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Local Alibaba Cloud Tablestore emulator for the tablestore SDK.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 picks a free one)")
    parser.add_argument("--data", default=None, metavar="FILE",
                        help="JSON file holding the tables: loaded at start, written after every change "
                             "(none: in memory only)")
    parser.add_argument("--access-key-id", default=DEFAULT_ACCESS_KEY_ID, help="accepted AccessKey ID")
    parser.add_argument("--access-key-secret", default=DEFAULT_ACCESS_KEY_SECRET,
                        help="secret requests must be signed with")
    parser.add_argument("--instance", default=DEFAULT_INSTANCE, help="accepted instance name")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None, prog: str = "tablestore-emulator") -> int:
    """Run the emulator until SIGTERM/SIGINT. ``argv`` excludes the program name."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.verbose:   # the SDK logs warnings about its optional native codec at import time
        logging.getLogger("tablestore").setLevel(logging.ERROR)
    from .emulator import TablestoreEmulator  # imports the SDK's protobuf modules

    emulator = TablestoreEmulator(host=args.host, port=args.port, access_key_id=args.access_key_id,
                                  access_key_secret=args.access_key_secret, instance=args.instance,
                                  data_file=args.data)
    stop = threading.Event()

    def _on_signal(signum, frame) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _on_signal)
    emulator.start()
    try:
        print(f"listening on {emulator.endpoint}", flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
