"""collect_outcome: the async destination (onSuccess and onFailure) of every check function."""

from precheck import events, handling, service, wiring


@handling.answers_errors
def handler(event, context):
    delivery = events.parse_delivery(event)
    collected = service.collect(delivery.request, delivery.outcome, wiring.deps(context))
    return events.plain_answer({"stored": collected.stored, "reason": collected.reason})
