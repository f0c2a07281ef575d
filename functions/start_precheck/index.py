"""start_precheck: API Gateway (register an instance, start a precheck), the timer (recheck every registered
instance) and EventBridge (an instance was registered). Fans out one async invocation per check item."""

from typing import Any

from precheck.startup import loading

with loading():  # the collector paused, the first load frozen (precheck.startup)
    from precheck import answers, commands, handling, service, wiring


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    command = commands.parse_start(event)
    result = service.handle_start(command, wiring.deps(context))
    return answers.start_answer(command, result)
