"""check_oss_connectivity: one check item, invoked asynchronously by start_precheck; its outcome goes to collect_outcome."""

from precheck import events, handling, runner, wiring
from precheck.checks import oss_connectivity


@handling.answers_errors
def handler(event, context):
    request = events.parse_check_request(event, oss_connectivity.ITEM.name)
    outcome = runner.run_check(oss_connectivity.ITEM, request, wiring.probes(context))
    return outcome.model_dump_json()
