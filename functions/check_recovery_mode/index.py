"""check_recovery_mode: one check item, invoked asynchronously by start_precheck; its outcome goes to collect_outcome."""

from typing import Any

from precheck.startup import loading

with loading():  # the collector paused, the first load frozen (precheck.startup)
    from precheck import eventjson, handling, runner, wiring
    from precheck.checks import recovery_mode


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    request = eventjson.parse_check_request(event, recovery_mode.ITEM.name)
    outcome = runner.run_check(recovery_mode.ITEM, request, wiring.probes(context))
    return outcome.model_dump_json()
