"""check_backup_permission: one check item, invoked asynchronously by start_precheck; its outcome goes to collect_outcome."""

from typing import Any

from precheck.startup import loading

with loading():  # the collector paused, the first load frozen (precheck.startup)
    from precheck import eventjson, handling, runner, wiring
    from precheck.checks import backup_permission


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    request = eventjson.parse_check_request(event, backup_permission.ITEM.name)
    outcome = runner.run_check(backup_permission.ITEM, request, wiring.probes(context))
    return outcome.model_dump_json()
