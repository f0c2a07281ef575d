"""get_last_result: API Gateway GET /instances/{instance_id}/prechecks/latest."""

from precheck import events, handling, service, wiring


@handling.answers_errors
def handler(event, context):
    instance_id = events.parse_last_result(event)
    run = service.last_result(instance_id, wiring.deps(context))
    return events.api_response(200, run)
