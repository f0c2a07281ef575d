"""`precheck check --servers FILE`: many servers checked at once (their items run in parallel on the
in-process invoker, as FC would run them), one summary table, the exit status of the worst."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_check import (
    FILE_FIELDS,
    _fields,
    _instance_id_for,
    _live,
    _run_path,
    build_instance,
    follow,
    read_servers,
    start,
)
from .cli_runs import _table, console, status_text
from .models import ItemStatus
from .report import EXIT_FINDINGS, EXIT_OK


def _row_fields(row: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    fields = {key: value for key, value in defaults.items() if value is not None}
    for key, value in row.items():
        if key == "timeout":
            fields["item_timeout_s"] = value
        elif key == "trust_server_certificate":
            fields[key] = str(value).strip().lower() in ("1", "true", "yes") if isinstance(value, str) else value
        else:
            fields[key] = value
    if not fields.get("instance_id") and fields.get("server"):
        fields["instance_id"] = _instance_id_for(str(fields["server"]))
    return fields


def check_servers(args: argparse.Namespace) -> int:
    from .cli_session import Session, UsageError, load_settings

    if args.server or args.instance_id or args.ecs_instance_id:
        raise UsageError("--servers checks the servers its file lists: leave out --server, --instance-id and "
                         "--ecs-instance-id (name each server's ECS instance in its row: ecs_instance_id)")
    settings = load_settings()
    rows = read_servers(args.servers)
    defaults = _fields(args)
    defaults.pop("server")
    names = {field: FILE_FIELDS.get(field, field) for field in
             ("instance_id", "region", "server", "user", "password_ref", "oss_endpoint", "control_endpoint", "bucket",
              "item_timeout_s", "encrypt", "ca_file", "trust_server_certificate", "ecs_instance_id", "os_family")}
    instances = []
    for number, row in enumerate(rows, 1):
        fields = _row_fields(row, defaults)
        missing = [name for name in ("server", "user", "password_env", "region") if not fields.get(name)]
        if missing:
            raise UsageError(f"--servers row {number}: {', '.join(missing)} missing (a field of the row, or "
                             "--user/--password-env/--region for every row)")
        try:
            instances.append(build_instance(fields, names, settings))
        except UsageError as error:
            raise UsageError(f"--servers row {number}: {error}") from None
    seen: dict[str, int] = {}
    for number, instance in enumerate(instances, 1):
        if instance.instance_id in seen:
            raise UsageError(f"--servers rows {seen[instance.instance_id]} and {number} have the same instance_id "
                             f"{instance.instance_id}: give one of them its own")
        seen[instance.instance_id] = number
    opened = Session(settings)
    opened.check_store()
    runs, refused = [], []
    for instance in instances:
        try:
            runs.append(start(opened, instance))
        except Exception as error:  # one refused server is reported in the table, the others still run
            refused.append((instance, str(error)))
    if runs:
        opened.preload("GET", _run_path(runs[0]))
    views = follow(opened, runs, live=_live(args)) if runs else []
    if args.format != "text":
        from .exports import export

        print(export(views, args.format), end="" if args.format != "json" else "\n")
    else:
        table = _table(f"{len(instances)} servers checked", ["INSTANCE", "SERVER", "STATUS", "BLOCKING ITEMS",
                                                             "RUN"])
        by_id = {instance.instance_id: instance for instance in instances}
        for view in views:
            blocking = [item["item"] for item in view["items"] if ItemStatus(item["status"]).blocks_backup]
            table.add_row(view["instance_id"], by_id[view["instance_id"]].server, status_text(view["status"]),
                          ", ".join(blocking) or "-", view["run_id"])
        for instance, message in refused:
            table.add_row(instance.instance_id, instance.server, status_text("ERROR"), f"not started: {message}", "-")
        console().print(table)
        print("Details: precheck last INSTANCE_ID; fixes: precheck fix INSTANCE_ID")
    if refused:
        for instance, message in refused:
            print(f"precheck: {instance.instance_id}: not started: {message}", file=sys.stderr)
    blocked = refused or any(ItemStatus(item["status"]).blocks_backup for view in views for item in view["items"])
    return EXIT_FINDINGS if blocked else EXIT_OK
