"""get_last_result: API Gateway GET /instances/{instance_id}/prechecks/latest."""

from typing import Any

from precheck import answers, commands, handling, service, wiring


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    instance_id = commands.parse_last_result(event)
    run = service.last_result(instance_id, wiring.deps(context))
    return answers.api_response(200, run)
