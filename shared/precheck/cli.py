"""`precheck`: the command-line tool. Every command goes through the same handlers FC runs.

  precheck check --server HOST[,PORT] --user USER --password-env VAR --region REGION [...]
                [--encrypt off|request|require|strict] [--trust-server-certificate] [--ca-file PATH]
                [--ecs-instance-id i-... [--os-family linux]]   network items probed as that host (here)
  precheck check --servers FILE [--user U --password-env VAR --region R]   many servers (CSV or JSON)
  precheck list [--region R] [--status S]      the instances, each with its latest run
  precheck history INSTANCE_ID                  its runs, newest first
  precheck last INSTANCE_ID                     its latest run, when it ran and how long ago
  precheck diff INSTANCE_ID [RUN_ID]            what changed since the run before
  precheck fix INSTANCE_ID [--run RUN_ID]       the run's fix script (T-SQL, commented by item)
  precheck serve [--port N]                     local API and console (API Gateway events, like SAM's local API)
  precheck invoke FUNCTION --event FILE         one handler with an event file, like `sam local invoke`
  precheck demo [--once]                        emulated SQL Server + local API + a first precheck
  precheck emulate sqlserver|tablestore         the emulators, in the foreground
  precheck store init [--store URL] [--runs-ttl-days N] [--events-ttl-days N]

check, last, list and history take --format text|json|junit|csv (junit: one test case per item, so a CI job
can gate on a precheck). Tables and live status use `rich` (the `cli` extra), imported only by the command
line's modules (never by a function).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence

from .cli_session import Failed, Session, UsageError, load_settings, open_api, session  # noqa: F401 (re-exported)
from .report import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE

#: the exit status of a command whose output pipe was closed early (`precheck last ID | head`): 128 + SIGPIPE
EXIT_PIPE = 141
#: 128 + SIGINT, what a shell reports for a command Ctrl-C ended: a script can tell "stopped" from "all clear"
EXIT_INTERRUPTED = 130


# --- invoke, serve, demo, emulate ---------------------------------------------------------------------------


def cmd_invoke(args: argparse.Namespace) -> int:
    from .local import UnknownFunction

    if args.wait < 0:
        raise UsageError("--wait takes a number of seconds, 0 or more")
    opened = session(check_store=False)
    if args.event == "-":
        event = sys.stdin.buffer.read()
    else:
        try:
            with open(args.event, "rb") as handle:
                event = handle.read()
        except OSError as error:
            raise UsageError(f"cannot read event file: {error.strerror}") from None
    try:
        result = opened.functions.call(args.function, event)
    except UnknownFunction:
        raise UsageError(f"no function named {args.function[:64]!r}; the functions are: "
                         + ", ".join(opened.functions.names())) from None
    text = result.decode("utf-8") if isinstance(result, bytes) else result
    print(text, flush=True)
    if not opened.drain(args.wait):
        print(f"precheck: work the function started was still running after --wait {args.wait:g} s; it is "
              "abandoned when this process exits (wait longer with --wait SECONDS)", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_FINDINGS if _api_status(text) >= 400 else EXIT_OK


def _api_status(text: object) -> int:
    """The statusCode of an API Gateway answer a handler returned (0 for any other answer)."""
    try:
        answer = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return 0
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    return status if isinstance(status, int) else 0


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def cmd_serve(args: argparse.Namespace) -> int:
    opened = session()
    api = open_api(args.host, args.port, opened.functions)
    print(f"local API listening on {api.url}  (console: {api.url}/)", flush=True)
    _stop_on_sigterm()
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.run(load_settings(), port=args.port, once=args.once)


EMULATORS = {"sqlserver": "SQL Server over TDS (tds-emulator)", "tablestore": "Tablestore (tablestore-emulator)"}


def cmd_emulate(args: argparse.Namespace, rest: list[str]) -> int:
    """The emulators are products of their own: run one's console script in this process's place."""
    from .launch import Unavailable, console_script

    if args.target is None:
        if {"-h", "--help"} & set(rest):
            print("usage: precheck emulate {sqlserver,tablestore} [OPTIONS]\n\nRun an emulator in the foreground; "
                  "its options are its own (precheck emulate TARGET --help).\n\ntargets:")
            for name, what in EMULATORS.items():
                print(f"  {name:<11} {what}")
            return EXIT_OK
        raise UsageError("emulate needs a target: sqlserver or tablestore (precheck emulate --help)")
    try:
        script = console_script(args.target)
    except Unavailable as error:
        raise UsageError(str(error)) from None
    os.execv(script, [script, *rest])
    return EXIT_OK  # not reached


# --- entry point ----------------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sqlserver-backup-precheck")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """`--version`, argparse's own action but with the version looked up only when asked: importlib.metadata
    and the search of the installed distributions cost every other command about 9 ms."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"precheck {_version()}")
        parser.exit()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser: for `argv` naming a command, only that command's (cli_args.add_commands)."""
    from .cli_args import SizedParser, add_commands, command_named

    parser = SizedParser(prog="precheck", description="SQL Server backup precheck for Alibaba Cloud.",
                         allow_abbrev=False)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the functions do (to stderr)")
    parser.add_argument("--version", action=_VersionAction, help="show the installed version and exit")
    add_commands(parser, None if argv is None else command_named(list(argv)))
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    from . import cli_check, cli_runs
    from .pydanticlean import without_pydantic_plugins

    without_pydantic_plugins()  # before the first model is built (pydanticlean says why)

    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command not in ("emulate", "store") and rest:
        # name the unknown options, never their values: a value could be a password typed by mistake
        options = [arg.split("=", 1)[0] for arg in rest if arg.startswith("-")] or ["(positional)"]
        hint = " (the password is read from the variable named by --password-env)" if any(
            "pass" in option or "pwd" in option for option in options) else ""
        parser.error(f"unknown options: {' '.join(options)}{hint}")
    try:
        if args.command == "emulate":
            return cmd_emulate(args, rest)
        if args.command == "store":
            from .store_cli import main as store_main

            return store_main(([args.action] if args.action else []) + rest)
        if args.command == "check" and args.servers:
            from .cli_fleet import check_servers  # only for --servers

            return check_servers(args)
        if args.command == "events":
            from .events_cli import cmd_events

            return cmd_events(args)
        commands = {"check": cli_check.cmd_check, "serve": cmd_serve, "invoke": cmd_invoke, "demo": cmd_demo,
                    "last": cli_runs.cmd_last, "list": cli_runs.cmd_list, "history": cli_runs.cmd_history,
                    "diff": cli_runs.cmd_diff, "fix": cli_runs.cmd_fix}
        return commands[args.command](args)
    except UsageError as error:
        print(f"precheck: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Failed as error:
        print(f"precheck: {error}", file=sys.stderr)
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        if args.command == "events" and getattr(args, "follow", False):
            return EXIT_OK  # --follow ends with Ctrl-C: that is how it is stopped
        print("precheck: interrupted (Ctrl-C): stopped before the run finished",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """`run`, and a reader that stops reading (`precheck last ID | head`) ends it quietly, as `cat` would.
    Called as the process (`argv` None: the console script, `python -m precheck.cli`), it ends the process
    itself once the command is done (`_end_process`)."""
    try:
        code = run(argv)
        sys.stdout.flush()
        if code == EXIT_INTERRUPTED:
            # the in-process invoker's workers may still wait on a server that does not answer, and the
            # interpreter joins them at exit (up to the items' time limit): leave now, the message written
            sys.stderr.flush()
            os._exit(code)
        if argv is None:
            _end_process(code)
        return code
    except BrokenPipeError:
        # Python's documented way: point stdout at devnull so the interpreter's own flush at exit is silent
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE


def _end_process(code: int) -> None:
    """End the process now, when nothing it started still runs: the output flushed and the exit functions run
    (logging's flush, the generated freetds.conf's folder removed), then `os._exit`, skipping only the
    interpreter's teardown, which frees every module's objects one by one (about 30 ms after a check, a
    tenth of the command). Commits are already durable (the SQLite store runs in WAL mode, synchronous
    NORMAL: durable across the end of the process). When the invoker still has work, or a thread other than
    its idle workers is alive, it returns, and the interpreter exits as usual (joining them)."""
    import atexit
    import threading

    from .cli_session import invokers_idle

    others = [thread for thread in threading.enumerate() if not thread.daemon
              and thread is not threading.main_thread() and not thread.name.startswith("fc-async")]
    if others or not invokers_idle():
        return
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # `python -m precheck.cli`: run the imported module, whose classes the others share
    from precheck.cli import main as imported_main

    sys.exit(imported_main())
