"""`precheck`: the command-line tool. Every command goes through the same handlers FC runs.

  precheck check --server HOST[,PORT] --user USER --password-env VAR --region REGION [...]
                [--encrypt off|request|require|strict] [--trust-server-certificate] [--ca-file PATH]
  precheck serve [--port N]              local API (API Gateway events, like SAM's local API)
  precheck invoke FUNCTION --event FILE  one handler with an event file, like `sam local invoke`
  precheck last INSTANCE_ID [--json]
  precheck demo [--once]                 emulated SQL Server + local API + a first precheck
  precheck emulate sqlserver|tablestore  the emulators, in the foreground
  precheck store init [--store URL] [--runs-ttl-days N] [--events-ttl-days N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .report import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageParser, exit_code, render

if TYPE_CHECKING:
    from .deps import Deps
    from .local import Functions
    from .settings import Settings


class UsageError(Exception):
    pass


class Session:
    """The command line's wiring: settings read once, the embedded invoker, the functions it calls."""

    def __init__(self, settings: Settings):
        from . import wiring

        self.settings = settings.with_(invoker="inprocess")
        self.deps: Deps = wiring.build(self.settings)
        self.functions: Functions = wiring.functions(self.settings)
        wiring.use(self.deps)

    def call_api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """A request of the HTTP API, answered by the function its route names (as `precheck serve` does)."""
        answer = self.functions.request(method, path, body)
        return answer.statusCode, answer.json_body()

    def last_result(self, instance_id: str) -> tuple[int, dict]:
        return self.call_api("GET", f"/instances/{instance_id}/prechecks/latest")

    def drain(self, timeout: float) -> None:
        drain = getattr(self.deps.invoker, "drain", None)
        if drain is not None:
            drain(timeout)


def load_settings() -> Settings:
    from .settings import Settings, SettingsError

    try:
        return Settings.from_environ()
    except SettingsError as error:
        raise UsageError(f"configuration: {error}") from None


# --- check ----------------------------------------------------------------------------------------------


def _instance_id_for(server: str) -> str:
    return ("cli-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", server.strip()))[:64].rstrip("-.")


def cmd_check(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .envelopes import describe_validation
    from .models import Instance

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", args.password_env or ""):
        raise UsageError("--password-env takes the NAME of an environment variable holding the password")
    settings = load_settings()
    if args.password_env not in settings.secret_env:
        raise UsageError(f"environment variable {args.password_env} is not set (it must hold the SQL password)")
    fields = {
        "instance_id": args.instance_id or _instance_id_for(args.server), "region": args.region,
        "server": args.server, "user": args.user, "password_ref": f"env:{args.password_env}",
        "oss_endpoint": args.oss_endpoint, "control_endpoint": args.control_endpoint, "bucket": args.bucket,
        "item_timeout_s": args.timeout, "encrypt": args.encrypt,
        "trust_server_certificate": args.trust_server_certificate or None, "ca_file": args.ca_file,
    }
    try:
        instance = Instance(**{key: value for key, value in fields.items() if value is not None})
    except ValidationError as error:
        raise UsageError(describe_validation(error)) from None
    session = Session(settings)
    status, body = session.call_api("POST", "/instances", instance.model_dump())
    if status >= 400:
        raise UsageError(body.get("error", f"start failed with HTTP {status}"))
    deadline = body["run"]["deadline"]
    session.drain(max(0.0, deadline - time.time()) + 1.0)
    return show_last_result(session, instance.instance_id, args.json)


def show_last_result(session: Session, instance_id: str, as_json: bool) -> int:
    status, view = session.last_result(instance_id)
    if status != 200:
        print(f"precheck: {view.get('error', status)}", file=sys.stderr)
        return EXIT_FINDINGS
    print(json.dumps(view, indent=2, ensure_ascii=False) if as_json else render(view))
    return exit_code(view)


# --- last, invoke, serve ----------------------------------------------------------------------------------


def cmd_last(args: argparse.Namespace) -> int:
    return show_last_result(Session(load_settings()), args.instance_id, args.json)


def cmd_invoke(args: argparse.Namespace) -> int:
    from .local import UnknownFunction

    session = Session(load_settings())
    if args.event == "-":
        event = sys.stdin.buffer.read()
    else:
        try:
            with open(args.event, "rb") as handle:
                event = handle.read()
        except OSError as error:
            raise UsageError(f"cannot read event file: {error.strerror}") from None
    try:
        result = session.functions.call(args.function, event)
    except UnknownFunction as error:
        raise UsageError(str(error)) from None
    session.drain(args.wait)
    print(result.decode("utf-8") if isinstance(result, bytes) else result)
    return EXIT_OK


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def cmd_serve(args: argparse.Namespace) -> int:
    from .localapi import LocalApi

    session = Session(load_settings())
    api = LocalApi(args.host, args.port, session.functions)
    print(f"local API listening on {api.url}", flush=True)
    _stop_on_sigterm()
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.run(load_settings(), port=args.port, once=args.once)


def cmd_emulate(args: argparse.Namespace, rest: list[str]) -> int:
    """The emulators are products of their own: run one's console script in this process's place."""
    from .launch import Unavailable, console_script

    try:
        script = console_script(args.target)
    except Unavailable as error:
        raise UsageError(str(error)) from None
    os.execv(script, [script, *rest])
    return EXIT_OK  # not reached


# --- entry point ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="precheck", description="SQL Server backup precheck for Alibaba Cloud.",
                         allow_abbrev=False)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the functions do (to stderr)")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="precheck one SQL Server instance now", allow_abbrev=False)
    check.add_argument("--server", required=True,
                       help="SQL Server name as DBAs write it: HOST (port 1433), HOST,PORT, tcp:HOST,PORT, "
                            "HOST\\INSTANCE (port from the SQL Server Browser, UDP 1434) or [IPv6],PORT")
    check.add_argument("--user", required=True, help="SQL login")
    check.add_argument("--password-env", required=True, metavar="VAR",
                       help="name of the environment variable that holds the password")
    check.add_argument("--region", required=True, help="Alibaba Cloud region id, e.g. cn-hangzhou")
    check.add_argument("--oss-endpoint", metavar="HOST[:PORT]", help="default oss-<region>-internal.aliyuncs.com")
    check.add_argument("--control-endpoint", metavar="HOST[:PORT]", help="default hbr-vpc.<region>.aliyuncs.com:443")
    check.add_argument("--bucket", help="backup bucket whose info must be readable")
    check.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="time limit per item")
    check.add_argument("--instance-id", help="id to store the result under (default: derived from --server)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--encrypt", choices=["off", "request", "require", "strict"],
                       help="TLS to SQL Server (default require: the whole session encrypted and the server's "
                            "certificate validated, as Microsoft's ODBC Driver 18 does)")
    check.add_argument("--trust-server-certificate", action="store_true",
                       help="encrypt without validating the server's certificate (no protection against an "
                            "impostor server: prefer a trusted certificate or --ca-file)")
    check.add_argument("--ca-file", metavar="PATH", help="PEM file of the CA that signed the server's certificate")

    serve = commands.add_parser("serve", help="run the local API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    invoke = commands.add_parser("invoke", help="run one function's handler with an event file")
    invoke.add_argument("function")
    invoke.add_argument("--event", required=True, metavar="FILE", help="event JSON file, or - for stdin")
    invoke.add_argument("--wait", type=float, default=30.0, help="seconds to wait for async work it starts")

    last = commands.add_parser("last", help="show the last precheck of an instance")
    last.add_argument("instance_id")
    last.add_argument("--json", action="store_true")

    demo = commands.add_parser("demo", help="emulated SQL Server, local API and a first precheck")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--once", action="store_true", help="exit after the first precheck")

    emulate = commands.add_parser("emulate", help="run an emulator in the foreground", add_help=False)
    emulate.add_argument("target", choices=["sqlserver", "tablestore"])

    store = commands.add_parser("store", add_help=False,
                                help="manage the result store: store init [--store URL] [--runs-ttl-days N] "
                                     "[--events-ttl-days N]")
    store.add_argument("action", choices=["init"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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

            return store_main([args.action, *rest])
        return {"check": cmd_check, "serve": cmd_serve, "invoke": cmd_invoke, "last": cmd_last,
                "demo": cmd_demo}[args.command](args)
    except UsageError as error:
        print(f"precheck: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
