"""Runs one check item under its time limit and turns whatever happens into exactly one Outcome."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from .checks import CheckContext, CheckItem, Probes, Verdict, skip_reason
from .models import MAX_OUTCOME_BYTES, CheckRequest, ItemStatus, Outcome
from .ports import PrecheckError

log = logging.getLogger("precheck.runner")

#: What FC hands a destination function: at most 128 KB (FC "Destinations for asynchronous invocations",
#: https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/result-callback; an asynchronous invocation's
#: payload is at most 128 KB too, https://www.alibabacloud.com/help/doc-detail/2527064.html), read as
#: 128,000 bytes to be safe. The event carries the check request and the outcome each as a JSON string
#: inside the event's JSON (tests/events/destination_*.json), so both count escaped (`escaped_size`).
DESTINATION_LIMIT_BYTES = 128_000
#: The event's own fields (timestamp, requestId, functionArn, condition, statusCode, functionError, keys).
ENVELOPE_BYTES = 2_000
#: What is left unused in every destination event: a tenth of the limit.
DESTINATION_MARGIN_BYTES = 12_800
#: The largest check request, escaped, a valid instance can make (tests/test_destinations.py measures the
#: most hostile one: 128 emoji as the user, 200 as the CA file, every field at its maximum).
MAX_REQUEST_ESCAPED_BYTES = 12_000
#: The escaped outcome's budget: what a destination event has left once the largest request, the envelope
#: and the margin are counted (tests/test_destinations.py builds the worst event and measures it).
OUTCOME_BUDGET_BYTES = min(MAX_OUTCOME_BYTES, DESTINATION_LIMIT_BYTES - DESTINATION_MARGIN_BYTES - ENVELOPE_BYTES
                           - MAX_REQUEST_ESCAPED_BYTES)


def run_check(item: CheckItem, request: CheckRequest, probes: Probes,
              clock: Callable[[], float] = time.time) -> Outcome:
    instance = request.instance
    started = time.monotonic()
    probes = probes.for_invocation()  # a secret is read once for the invocation, and not kept past it
    skipped = skip_reason(instance, item)
    if skipped:
        verdict = Verdict(ItemStatus.SKIPPED, skipped)
    else:
        verdict = _run_with_limit(item, CheckContext(instance, probes, started, instance.item_timeout_s))
    try:
        outcome = Outcome(
            item=item.name,
            code=item.code,
            status=verdict.status,
            message=verdict.message,
            affected=sorted(verdict.affected, key=lambda db: db.name),
            advice=verdict.advice,
            duration_ms=int((time.monotonic() - started) * 1000),
            details=verdict.details,
            finished_at=clock(),
        )
    except (ValidationError, TypeError, AttributeError) as error:  # a verdict that is not one: still one outcome
        log.error("check %s returned an invalid verdict: %s", item.name, type(error).__name__)
        outcome = Outcome(item=item.name, code=item.code, status=ItemStatus.ERROR,
                          message="the check returned an invalid verdict (a bug in the check)",
                          duration_ms=int((time.monotonic() - started) * 1000), details={"reason": "garbage"},
                          finished_at=clock())
    return fit(outcome)


def _run_with_limit(item: CheckItem, ctx: CheckContext) -> Verdict:
    box: list[Verdict] = []

    def target() -> None:
        try:
            verdict = item.run(ctx)
            if not isinstance(verdict, Verdict):
                raise TypeError(f"{item.name} returned {type(verdict).__name__}, not a Verdict")
            box.append(verdict)
        except TypeError as error:
            log.error("check %s: %s", item.name, error)
            box.append(Verdict(ItemStatus.ERROR, "the check returned no verdict (a bug in the check)",
                               details={"reason": "garbage"}))
        except PrecheckError as error:
            box.append(Verdict(ItemStatus.ERROR, error.message, details={"reason": error.kind}))
        except Exception as error:  # a bug in a check must still produce an outcome
            # where it crashed, not what it said: a driver's message can quote its connection string (password)
            import traceback  # only a crash needs it (cold start)

            frames = traceback.extract_tb(error.__traceback__)
            log.error("check %s crashed: %s at %s", item.name, type(error).__name__,
                      " <- ".join(f"{Path(frame.filename).name}:{frame.lineno}" for frame in reversed(frames[-6:])))
            box.append(Verdict(ItemStatus.ERROR, f"the check crashed: {type(error).__name__}",
                               details={"reason": "crash"}))

    worker = threading.Thread(target=target, name=f"check-{item.name}", daemon=True)
    worker.start()
    worker.join(ctx.time_limit)
    if box:
        return box[0]
    return Verdict(ItemStatus.TIMED_OUT, f"the check did not finish within its time limit of {ctx.time_limit:g} s",
                   advice="Something the check waits on does not answer; raise the instance's item_timeout_s only "
                          "if the network is known to be slow.",
                   details={"reason": "time_limit"})


def escaped_size(text: str) -> int:
    """Bytes `text` takes as a JSON string (quotes included) by the most expansive of the encoders that may
    write the destination event: Python's `json.dumps` (non-ASCII as \\uXXXX: 6 bytes a character, 12 for
    an emoji) and Go's encoding/json (`<`, `>`, `&`, U+2028/9 as \\u003c..., \\b and \\f as \\u0008
    before Go 1.22). FC's encoder is not documented; this bounds both."""
    return (len(json.dumps(text)) + 5 * (text.count("<") + text.count(">") + text.count("&"))
            + 4 * (text.count("\b") + text.count("\f")))


_escaped_size = escaped_size


#: what is kept of a message and of advice, and the largest details kept, when an outcome is over budget: bytes
#: once escaped in the destination event (an emoji is 12, so a cut by characters could keep 12 times more)
MESSAGE_BYTES, ADVICE_BYTES, DETAILS_BYTES = 4_000, 8_000, 8_000


def _cut(text: str, limit: int) -> str:
    """`text` cut to what takes at most `limit` bytes inside the outcome's JSON once that is escaped again."""
    if len(text) * 12 <= limit:  # 12: the most any character takes (an emoji as Python escapes it)
        return text
    used = 0
    for index, char in enumerate(text):
        used += escaped_size(json.dumps(char, ensure_ascii=False)[1:-1]) - 2
        if used > limit:
            return text[:index] + " [cut]"
    return text


def fit(outcome: Outcome, budget: int = OUTCOME_BUDGET_BYTES) -> Outcome:
    """Keep the outcome within `budget` bytes once escaped inside a destination event (`escaped_size`), listing
    as many affected databases as fit and counting exactly how many were left out; a message, advice or details too
    large to fit are cut first (an outcome over 128 KB would never reach the collector)."""
    if _escaped_size(outcome.model_dump_json()) <= budget:
        return outcome
    details = outcome.details
    if _escaped_size(json.dumps(details, default=str)) > DETAILS_BYTES:
        details = {"reason": str(details.get("reason", ""))[:100], "details_cut": True}
    outcome = outcome.model_copy(update={"message": _cut(outcome.message, MESSAGE_BYTES),
                                         "advice": _cut(outcome.advice, ADVICE_BYTES), "details": details})
    if _escaped_size(outcome.model_dump_json()) <= budget:
        return outcome
    base = outcome.model_copy(update={"affected": [], "message": outcome.message + " (00000 more not listed)"})
    room = budget - _escaped_size(base.model_dump_json())
    kept = 0
    for db in outcome.affected:
        room -= _escaped_size(db.model_dump_json()) + 1  # +1 for the comma
        if room < 0:
            break
        kept += 1
    while True:
        omitted = len(outcome.affected) - kept + outcome.affected_omitted
        trimmed = outcome.model_copy(update={
            "affected": outcome.affected[:kept],
            "affected_omitted": omitted,
            "message": f"{outcome.message} ({omitted} more not listed)",
        })
        if kept == 0 or _escaped_size(trimmed.model_dump_json()) <= budget:
            return trimmed
        kept -= 1
