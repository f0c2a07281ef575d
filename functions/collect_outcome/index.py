"""collect_outcome: the async destination (onSuccess and onFailure) of every check function."""

from typing import Any

from precheck import answers, commands, handling, service, wiring


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    delivery = commands.parse_delivery(event)
    collected = service.collect(delivery, wiring.deps(context))
    return answers.plain_answer({"stored": collected.stored, "reason": collected.reason})
