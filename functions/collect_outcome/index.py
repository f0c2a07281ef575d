"""collect_outcome: the async destination (onSuccess and onFailure) of every check function, and each run's
finalizer, which `start_precheck` schedules for the run's deadline (precheck.completion)."""

from typing import Any

from precheck.startup import loading

with loading():  # the collector paused, the first load frozen (precheck.startup)
    from precheck import answers, commands, completion, handling, service, wiring


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    job = completion.parse_finalize(event)
    if job is not None:
        return answers.plain_answer({"finalized": completion.finalize(job, wiring.deps(context), service.settle)})
    delivery = commands.parse_delivery(event)
    collected = service.collect(delivery, wiring.deps(context))
    return answers.plain_answer({"stored": collected.stored, "reason": collected.reason})
