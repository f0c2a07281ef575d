"""get_last_result: every read of the API (API Gateway GET): the fleet, an instance, its history, a run, its diff
against the run before, its fix script, the latest run; and the web console's files (`GET /`, `GET /console/...`)."""

from typing import Any

from precheck.startup import loading

with loading():  # the collector paused, the first load frozen (precheck.startup)
    from precheck import answers, handling, queries, reads, wiring


@handling.answers_errors
def handler(event: bytes, context: Any) -> str:
    query = queries.parse_query(event)
    if query.action in queries.CONSOLE_ACTIONS:
        return answers.console_answer(query.asset or "index.html")
    return answers.read_answer(reads.read(query, wiring.deps(context)))
