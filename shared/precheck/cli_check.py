"""`precheck check`: one server (`--server`) or many (`--servers FILE`), each item's status live on a
terminal (rich), plain when not; the instance is registered like one sent to POST /instances, so the
command line, the API and the console see one fleet and one history.

Validation errors name the flag (or the file's field) the user wrote, with the rule, never pydantic's text
nor the value."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

from .cli_runs import _path, console, need_rich, show_run, status_text
from .settings import Settings

#: the model's field -> the flag that sets it
FLAGS = {"instance_id": "--instance-id", "region": "--region", "server": "--server", "user": "--user",
         "password_ref": "--password-env", "oss_endpoint": "--oss-endpoint", "control_endpoint": "--control-endpoint",
         "bucket": "--bucket", "item_timeout_s": "--timeout", "encrypt": "--encrypt", "ca_file": "--ca-file",
         "trust_server_certificate": "--trust-server-certificate", "ecs_instance_id": "--ecs-instance-id",
         "os_family": "--os-family"}
#: the model's field -> the field of a --servers file
FILE_FIELDS = {"password_ref": "password_env", "item_timeout_s": "timeout"}
#: what a pattern means, said instead of the pattern
RULES = {
    "instance_id": "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
    "region": "a region id: 2 to 40 lowercase letters, digits or '-', e.g. cn-hangzhou",
    "bucket": "an OSS bucket name: 3 to 63 lowercase letters, digits or '-', starting and ending with a letter or "
              "digit",
    "password_ref": "the NAME of an environment variable (letters, digits, '_'; not starting with a digit)",
    "ecs_instance_id": "an ECS instance id: i- then 8 to 30 lowercase letters or digits, e.g. i-bp1abc23def45ghi67",
}
FILE_KEYS = ["server", "user", "password_env", "region", "instance_id", "oss_endpoint", "control_endpoint", "bucket",
             "timeout", "encrypt", "trust_server_certificate", "ca_file", "ecs_instance_id", "os_family"]
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_SERVERS = 500


def explain(error: Any, name_of: dict[str, str]) -> str:
    """A pydantic ValidationError in the user's words: `--timeout: must be more than 0`."""
    parts = []
    for detail in error.errors(include_url=False)[:5]:
        field = str(detail["loc"][0]) if detail["loc"] else ""
        shown = name_of.get(field, field or "input")
        kind, ctx = detail["type"], detail.get("ctx") or {}
        if kind == "string_pattern_mismatch":
            rule = RULES.get(field, "not in the form it must have")
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            words = {"greater_than": "more than", "greater_than_equal": "at least", "less_than": "less than",
                     "less_than_equal": "at most"}[kind]
            limit = next(iter(ctx.values()), "")
            rule = f"must be {words} {limit:g}" if isinstance(limit, (int, float)) else f"must be {words} {limit}"
        elif kind == "string_too_long":
            rule = f"must be at most {ctx.get('max_length')} characters"
        elif kind == "string_too_short":
            rule = "must not be empty"
        elif kind == "extra_forbidden":
            rule = "is not a known field"
        elif kind == "missing":
            rule = "is required"
        elif kind == "value_error":
            rule = str(ctx.get("error") or "is not valid")
        elif kind in ("float_parsing", "int_parsing", "float_type", "int_type"):
            rule = "must be a number"
        elif kind in ("bool_parsing", "bool_type"):
            rule = "must be true or false"
        elif kind == "enum" or kind == "literal_error":
            rule = f"must be one of {ctx.get('expected', 'the allowed values')}"
        else:
            from .envelopes import describe_validation  # the generic wording, values cut out

            return describe_validation(error)
        parts.append(f"{shown}: {rule}")
    return "; ".join(parts)


def build_instance(fields: dict[str, Any], name_of: dict[str, str], settings: Settings) -> Any:
    """An Instance from the user's fields; `UsageError` naming their flag or field and the rule."""
    from pydantic import ValidationError

    from .cli_session import UsageError
    from .models import Instance

    variable = fields.pop("password_env", None)
    password_name = name_of.get("password_ref", "--password-env")
    if not variable or not VARIABLE.fullmatch(str(variable)):
        raise UsageError(f"{password_name} takes the NAME of an environment variable holding the password")
    value = settings.secret_env.get(variable)
    if value is None:
        raise UsageError(f"environment variable {variable} is not set (it must hold the SQL password; "
                         f"{password_name} names it)")
    if value == "":
        raise UsageError(f"environment variable {variable} is set but empty: put the SQL password in it "
                         f"({password_name} names it)")
    fields["password_ref"] = f"env:{variable}"
    try:
        return Instance(**{key: value for key, value in fields.items() if value is not None})
    except ValidationError as error:
        raise UsageError(explain(error, name_of)) from None


def _instance_id_for(server: str) -> str:
    return ("cli-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", server.strip()))[:64].rstrip("-.")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    return {"region": args.region, "server": args.server, "user": args.user, "password_env": args.password_env,
            "oss_endpoint": args.oss_endpoint, "control_endpoint": args.control_endpoint, "bucket": args.bucket,
            "item_timeout_s": args.timeout, "encrypt": args.encrypt,
            "trust_server_certificate": args.trust_server_certificate or None, "ca_file": args.ca_file,
            "ecs_instance_id": args.ecs_instance_id, "os_family": args.os_family}


def cmd_check(args: argparse.Namespace) -> int:
    from .cli_session import UsageError, load_settings

    missing = [flag for flag, value in (("--server", args.server), ("--user", args.user),
                                        ("--password-env", args.password_env), ("--region", args.region)) if not value]
    if missing:
        raise UsageError(f"check needs {', '.join(missing)} (or --servers FILE)")
    settings = load_settings()
    fields = _fields(args)
    fields["instance_id"] = args.instance_id or _instance_id_for(args.server)
    instance = build_instance(fields, FLAGS, settings)
    from .cli_session import Session

    opened = Session(settings)
    opened.check_store()
    run = start(opened, instance)
    opened.preload("GET", _run_path(run))
    view = follow(opened, [run], live=_live(args))[0]
    return show_run(view, args.format)


def _live(args: argparse.Namespace) -> bool:
    if args.live == "auto":
        return args.format == "text" and sys.stdout.isatty()
    return args.live == "on"


def start(opened: Any, instance: Any) -> dict[str, Any]:
    """Register the instance (POST /instances: stored like any registered one) and return its run."""
    from .cli_session import Failed

    status, body = opened.call_api("POST", "/instances", instance.model_dump(mode="json"))
    if status >= 400:
        raise Failed(str(body.get("error", f"start failed with HTTP {status}")))
    run: dict[str, Any] = body["run"]
    return run


def _run_path(run: dict[str, Any]) -> str:
    return _path("instances", run["instance_id"], "prechecks", run["run_id"])


def _fetch(opened: Any, run: dict[str, Any]) -> dict[str, Any]:
    status, view = opened.call_api("GET", _run_path(run))
    if status == 200:
        return view
    status, view = opened.call_api("GET", _path("instances", run["instance_id"], "prechecks", "latest"))
    return view if status == 200 else run


def follow(opened: Any, runs: list[dict[str, Any]], live: bool, poll_s: float = 0.2) -> list[dict[str, Any]]:
    """Wait for the runs (executed by the in-process invoker) to finish or pass their deadline, showing each
    item's status live when `live`; the runs' final views.

    It waits on the invoker (`drain`), not on a clock, and reads the store after each wait: the moment the
    last invocation (an item, its collection) ends, the runs are read, so the command ends when its run does,
    not up to `poll_s` later. Runs read once nothing runs in the invoker are final: they are not read again.
    A wait the invoker ends early with nothing running (a run waiting for something not yet due, such as its
    deadline's finalizer) is completed by sleeping the rest of `poll_s`, so the store is never read more
    often than every `poll_s`, whether work runs or not."""
    views = list(runs)  # as started: RUNNING, every item PENDING (nothing to read before the first wait)
    deadline = max(run["deadline"] for run in runs) + 1.0
    display = _Display(views) if live else None
    try:
        while any(view["status"] == "RUNNING" for view in views) and time.time() <= deadline:
            began = time.monotonic()
            idle = opened.drain(min(poll_s, max(0.0, deadline - time.time())))
            views = [_fetch(opened, view) if view["status"] == "RUNNING" else view for view in views]
            if display:
                display.update(views)
            if all(view["status"] != "RUNNING" for view in views):
                if idle:
                    return views  # read after the invoker's last work ended: final
                break
            if idle:
                time.sleep(max(0.0, poll_s - (time.monotonic() - began)))
    finally:
        if display:
            display.stop()
    opened.drain(max(0.0, deadline - time.time()))
    return [_fetch(opened, view) for view in views]


class _Display:
    """rich's Live: a table of items (one run) or of servers (several), redrawn as outcomes arrive; on stderr,
    so stdout keeps only the result."""

    def __init__(self, views: list[dict[str, Any]]):
        need_rich()
        from rich.live import Live

        self._live = Live(self._render(views), console=console(sys.stderr), refresh_per_second=8, transient=True)
        self._live.start()

    def _render(self, views: list[dict[str, Any]]) -> Any:
        from rich.table import Table

        table = Table(title="Checking… (Ctrl-C stops waiting)", title_justify="left", show_edge=False)
        if len(views) == 1:
            table.add_column("ITEM")
            table.add_column("STATUS")
            table.add_column("MESSAGE", overflow="ellipsis", no_wrap=True, max_width=70)
            for item in views[0]["items"]:
                table.add_row(item["item"], status_text(item["status"]), item.get("message", ""))
        else:
            table.add_column("INSTANCE")
            table.add_column("STATUS")
            table.add_column("DONE")
            for view in views:
                done = sum(item["status"] != "PENDING" for item in view["items"])
                table.add_row(view["instance_id"], status_text(view["status"]), f"{done}/{len(view['items'])}")
        return table

    def update(self, views: list[dict[str, Any]]) -> None:
        self._live.update(self._render(views))

    def stop(self) -> None:
        self._live.stop()


# --- the --servers file -------------------------------------------------------------------------------------


def read_servers(path: str) -> list[dict[str, Any]]:
    """The rows of a CSV (header row) or JSON (a list of objects, or {"servers": [...]}) file."""
    from .cli_session import UsageError

    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read(4 * 1024 * 1024 + 1)
    except OSError as error:
        raise UsageError(f"cannot read --servers file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError("--servers file is not UTF-8 text") from None
    if len(text) > 4 * 1024 * 1024:
        raise UsageError("--servers file is larger than 4 MB")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as error:
            raise UsageError(f"--servers file is not valid JSON (line {getattr(error, 'lineno', '?')})") from None
        rows = data.get("servers") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise UsageError('--servers JSON must be a list of objects (or {"servers": [...]})')
    else:
        import csv  # only a CSV --servers file needs it: a single `precheck check` does not import it

        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "server" not in [name.strip() for name in reader.fieldnames]:
            raise UsageError("--servers CSV needs a header row naming its columns, server among them")
        rows = [{(key or "").strip(): (value.strip() if isinstance(value, str) else value)
                 for key, value in row.items() if key is not None and value not in (None, "")} for row in reader]
    if not rows:
        raise UsageError("--servers file lists no servers")
    if len(rows) > MAX_SERVERS:
        raise UsageError(f"--servers file lists more than {MAX_SERVERS} servers")
    for number, row in enumerate(rows, 1):
        unknown = sorted(set(row) - set(FILE_KEYS))
        if unknown:
            shown = [name if re.fullmatch(r"[A-Za-z0-9_]{1,40}", name) else "(a field)" for name in unknown]
            raise UsageError(f"--servers row {number}: unknown field {', '.join(shown)} (the fields are "
                             f"{', '.join(FILE_KEYS)})")
    return rows
