"""start_precheck: API Gateway (register an instance, start a precheck), the timer (recheck every registered
instance) and EventBridge (an instance was registered). Fans out one async invocation per check item."""

from precheck import events, handling, service, wiring


@handling.answers_errors
def handler(event, context):
    command = events.parse_start(event)
    result = service.handle_start(command, wiring.deps(context))
    return events.start_answer(command, result)
