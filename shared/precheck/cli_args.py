"""The command line's arguments: every command and its options (cli.py runs them)."""

from __future__ import annotations

import argparse
from typing import Any

from .report import UsageParser
from .settings import terminal_columns

FORMATS = ["text", "json", "junit", "csv"]
RUN_STATUSES = ["RUNNING", "PASSED", "SKIPPED", "WARNING", "TIMED_OUT", "ERROR", "FAILED"]


class SizedFormatter(argparse.HelpFormatter):
    """argparse's help formatter with the width it would compute itself (the terminal's, less 2), computed here:
    argparse makes a formatter for every `add_argument` and, given no width, imports shutil for it (with bz2,
    lzma and fnmatch: about 2 ms of every command's start). Same width, same help."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class SizedParser(UsageParser):
    """The command line's parsers (the top one, each command's and their common options): usage errors that
    never repeat a value (UsageParser), help formatted by SizedFormatter unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", SizedFormatter)
        super().__init__(*args, **kwargs)


def _common() -> argparse.ArgumentParser:
    """Options every command takes, after its name too (`precheck last ID -v`)."""
    common = SizedParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log what the functions do (to stderr)")
    return common


def _format(parser: argparse.ArgumentParser, formats: list[str]) -> None:
    parser.add_argument("--format", choices=formats, default="text",
                        help="text (default), " + ", ".join(formats[1:]))
    parser.add_argument("--json", action="store_const", const="json", dest="format", help="same as --format json")


#: every command's name, in the order `precheck --help` lists them
COMMANDS = ("check", "serve", "invoke", "last", "list", "history", "diff", "fix", "events", "demo", "emulate", "store")


def command_named(argv: list[str]) -> str | None:
    """The command `argv` names (its first word that is not an option: the program's own options take no
    value), or None when there is none or it is not a command."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def add_commands(parser: argparse.ArgumentParser, only: str | None = None) -> None:
    """Every command's parser, or only the one named `only` (the command being run: building the other eleven
    cost every command about 4 ms; parsing the same arguments gives the same result, and a word that is not a
    command, or none, builds them all, so the error and the help list them as before)."""
    common = [_common()]
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=SizedParser)
    for name in COMMANDS:
        if only is None or name == only:
            _ADDERS[name](commands, common)


def _check(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    check = commands.add_parser("check", parents=common, allow_abbrev=False,
                                help="precheck one SQL Server instance now, or many (--servers FILE)")
    check.add_argument("--server",
                       help="SQL Server name as DBAs write it: HOST (port 1433), HOST,PORT, tcp:HOST,PORT, "
                            "HOST\\INSTANCE (port from the SQL Server Browser, UDP 1434) or [IPv6],PORT")
    check.add_argument("--servers", metavar="FILE",
                       help="check many servers at once: a CSV file with a header row, or a JSON list of objects, "
                            "with the fields server, user, password_env, region and optionally instance_id, "
                            "oss_endpoint, control_endpoint, bucket, timeout, encrypt, trust_server_certificate, "
                            "ca_file (a field left out takes the option's value); one summary table")
    check.add_argument("--user", help="SQL login")
    check.add_argument("--password-env", metavar="VAR",
                       help="name of the environment variable that holds the password")
    check.add_argument("--region", help="Alibaba Cloud region id, e.g. cn-hangzhou")
    check.add_argument("--oss-endpoint", metavar="HOST[:PORT]", help="default oss-<region>-internal.aliyuncs.com")
    check.add_argument("--control-endpoint", metavar="HOST[:PORT]", help="default hbr-vpc.<region>.aliyuncs.com:443")
    check.add_argument("--bucket", help="backup bucket whose info must be readable")
    check.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit per item (default 10)")
    check.add_argument("--instance-id", help="id to store the result under (default: derived from --server); the "
                                             "instance is registered like one sent to POST /instances")
    check.add_argument("--encrypt", choices=["off", "request", "require", "strict"],
                       help="TLS to SQL Server (default require: the whole session encrypted and the server's "
                            "certificate validated, as Microsoft's ODBC Driver 18 does)")
    check.add_argument("--trust-server-certificate", action="store_true",
                       help="encrypt without validating the server's certificate (no protection against an "
                            "impostor server: prefer a trusted certificate or --ca-file)")
    check.add_argument("--ca-file", metavar="PATH", help="PEM file of the CA that signed the server's certificate")
    check.add_argument("--ecs-instance-id", metavar="ID",
                       help="the ECS instance SQL Server runs on (i-...): the network items then probe from it, which "
                            "here is this machine, with the probe script and bash")
    check.add_argument("--os-family", choices=["linux", "windows"],
                       help="that instance's OS (found by the probe when not given; here only linux runs)")
    check.add_argument("--live", choices=["auto", "on", "off"], default="auto",
                       help="each item's status live while the run goes on (auto: on a terminal only)")
    _format(check, FORMATS)


def _serve(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", parents=common,
                                help="run the local API and the console")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="default 8080; 0 for any free port")


def _invoke(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    invoke = commands.add_parser("invoke", parents=common,
                                 help="run one function's handler with an event file",
                                 description="Run one function's handler with an event file; the exit status "
                                             "is 1 when it answers an API request with 4xx or 5xx.")
    invoke.add_argument("function", help="a folder of functions/ (an unknown name lists them)")
    invoke.add_argument("--event", required=True, metavar="FILE", help="event JSON file, or - for stdin")
    invoke.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                        help="seconds to wait for the async work it starts (check functions, destinations) before "
                             "exiting; exit 1 if it is still running then (default 30)")


def _last(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    last = commands.add_parser("last", parents=common,
                               help="show the last precheck of an instance, with its age")
    last.add_argument("instance_id")
    _format(last, FORMATS)


def _list(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser("list", parents=common,
                                  help="the instances, each with its latest run")
    listing.add_argument("--region", help="only this region's instances")
    listing.add_argument("--status", choices=RUN_STATUSES, help="only those whose latest run has this status")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    _format(listing, ["text", "json", "csv"])


def _history(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    history = commands.add_parser("history", parents=common,
                                  help="an instance's runs, newest first")
    history.add_argument("instance_id")
    history.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    _format(history, ["text", "json", "csv"])


def _diff(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    diff = commands.add_parser("diff", parents=common,
                               help="what changed in a run since the run before")
    diff.add_argument("instance_id")
    diff.add_argument("run_id", nargs="?", help="default: the latest run")
    _format(diff, ["text", "json"])


def _fix(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    fix = commands.add_parser("fix", parents=common,
                              help="a run's fix script (T-SQL commented by item)")
    fix.add_argument("instance_id")
    fix.add_argument("--run", metavar="RUN_ID", help="default: the latest run")


def _events(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    from .events_cli import add_parser as add_events  # `precheck events` (issue 17)

    add_events(commands, common)


def _demo(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", parents=common,
                               help="emulated SQL Server, local API and a first precheck")
    demo.add_argument("--port", type=int, default=8080, help="default 8080; 0 for any free port")
    demo.add_argument("--once", action="store_true", help="exit after the first precheck")


def _emulate(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    # the emulators' and the store's own options follow their names: these parsers take only the first word
    emulate = commands.add_parser("emulate",
                                  help="run an emulator in the foreground", add_help=False)
    emulate.add_argument("target", nargs="?", choices=["sqlserver", "tablestore"])


def _store(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    store = commands.add_parser("store", add_help=False,
                                help="manage the result store: store init [--store URL] [--runs-ttl-days N] "
                                     "[--events-ttl-days N]")
    store.add_argument("action", nargs="?", choices=["init"])


_ADDERS = {name: globals()[f"_{name}"] for name in COMMANDS}
