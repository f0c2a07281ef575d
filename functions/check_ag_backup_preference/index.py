"""check_ag_backup_preference: one check item, invoked asynchronously by start_precheck; its outcome goes to collect_outcome."""

from typing import Any

from precheck.startup import loading

with loading():  # the collector paused, the first load frozen (precheck.startup)
    from precheck import eventjson, handling, runner, wiring
    from precheck.checks import ag_backup_preference


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    request = eventjson.parse_check_request(event, ag_backup_preference.ITEM.name)
    outcome = runner.run_check(ag_backup_preference.ITEM, request, wiring.probes(context))
    return outcome.model_dump_json()
