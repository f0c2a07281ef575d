"""A run ends exactly once, and says so: one `precheck.run.completed` event per run (see `runevents`).

Who ends a run: the collector that stores its last outcome (`after_collect`), or, when some item never
reports, the finalizer that `start` schedules for the run's deadline (`schedule_finalizer`: a delayed
asynchronous invocation of `collect_outcome`, FC's `x-fc-async-delay`), which stores TIMED_OUT for the items
still missing (`service.settle`) and ends the run without anybody reading it.

Exactly one event, under duplicated and reordered deliveries, simultaneous collectors and crashes:

1. the run is complete only once every item's outcome is STORED: the store's write of an outcome says whether
   it completed the run (`ResultStore.record_outcome`: of two collectors storing the last two items at once,
   exactly one is told so, and a repeat of a complete run is told so too);
2. the ender takes the run's "ended" mark, a conditional write of the store (`ResultStore.begin_end`): of any
   number of enders one wins; the others stop;
3. the winner publishes (the sink retries within its bounded budget until the event is acknowledged), then
   marks the run `published`;
4. a crash between 2 and 4 leaves the mark `ending`: the finalizer (scheduled for the deadline, again every
   `LEASE_S` while the mark is fresh) takes over a mark older than `LEASE_S` (a second conditional write)
   and publishes. A crash between the publish and step 4 makes the taker publish the same event again: its
   id is the run id, so a consumer sees one event (CloudEvents: `source` + `id` identify an event).

Nothing here runs without a sink (`Deps.sink` None: tests of other parts, and the check functions).
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from . import runevents
from .deps import Deps
from .frozen import Frozen
from .layout import COLLECT
from .models import Run
from .ports import PrecheckError, RunRecord
from .timeouts import COLLECT_FUNCTION_TIMEOUT_S, MARGIN_SHARE

log = logging.getLogger("precheck.completion")

#: how long an "ending" mark belongs to its holder before the finalizer may take it over: longer than the
#: collector's whole FC timeout (a holder is dead once FC has stopped it) with the timeouts table's margin,
#: so a live holder is never overtaken (its publish alone is bounded by the sink's budget, 8 s for EventBridge)
LEASE_S = COLLECT_FUNCTION_TIMEOUT_S * (1 + MARGIN_SHARE)
#: how many times the finalizer runs for one run at most: at the deadline, then while the mark is held by
#: someone else or the publish failed, after LEASE_S, doubling up to FC's maximum delay (an hour): a holder
#: that crashed is overtaken at the second attempt; 24 attempts span about a day (FC keeps an async event
#: at most 24 hours, `maxAsyncEventAgeInSeconds`), and each one runs only when the one before found no event
FINALIZE_ATTEMPTS = 24
#: FC's maximum `x-fc-async-delay`, in seconds (FC 2.0 "Asynchronous invocation overview", deferred
#: invocation: https://www.alibabacloud.com/help/en/fc/overview-34, range [0, 3600])
MAX_DELAY_S = 3600
#: the key of the finalizer's payload (a destination event never has it)
FINALIZE = "precheck_finalize"


class Finalize(Frozen):
    """A finalizer job: which run, and which attempt. Written by hand (precheck.frozen), not as a frozen
    dataclass, whose generation costs 0.3-0.5 ms on a cold start (issue 16)."""

    __slots__ = ("instance_id", "run_id", "attempt")
    instance_id: str
    run_id: str
    attempt: int

    def __init__(self, instance_id: str, run_id: str, attempt: int = 1):
        self._init(instance_id=instance_id, run_id=run_id, attempt=attempt)


# --- scheduling the finalizer -------------------------------------------------------------------------------


def finalizer_id(run_id: str, attempt: int) -> str:
    """The stateful invocation id of a run's finalizer attempt (FC: `[A-Za-z_][A-Za-z0-9_-]{0,127}`): scheduled
    twice, it runs once."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"f{run_id}_finalize{attempt}")[:128]


def schedule_at_deadline(run: Run, deps: Deps) -> None:
    """`start`'s call: schedule the run's finalizer; a failure is logged (readers still settle the run, only
    its timely end and its event are lost), never raised into the start."""
    try:
        schedule_finalizer(run.instance_id, run.run_id, run.deadline, deps)
    except PrecheckError as error:
        log.error("could not schedule the finalizer of run %s: %s", run.run_id, error.message,
                  extra={"step": "schedule_finalizer", "status": "failed", "error_class": type(error).__name__,
                         "instance_id": run.instance_id, "run_id": run.run_id})


def schedule_finalizer(instance_id: str, run_id: str, deadline: float, deps: Deps, attempt: int = 1,
                       delay_s: float | None = None) -> None:
    """Have `collect_outcome` finalize the run at its deadline (or after `delay_s`); no scheduler: nothing."""
    if deps.scheduler is None:
        return
    if delay_s is None:
        delay_s = deadline - deps.clock() + 1.0  # a second after it, so the deadline has surely passed
    delay = max(0, min(MAX_DELAY_S, math.ceil(delay_s)))
    payload = json.dumps({FINALIZE: {"instance_id": instance_id, "run_id": run_id, "attempt": attempt}})
    deps.scheduler.invoke_later(COLLECT, payload.encode("utf-8"), finalizer_id(run_id, attempt), delay)


def retry_delay(attempt: int) -> float:
    """How long after finalizer `attempt` (which found no event) the next one runs: LEASE_S, doubling, at
    most MAX_DELAY_S."""
    return min(MAX_DELAY_S, (LEASE_S + 1) * 2 ** (attempt - 1))


def parse_finalize(event: Any) -> Finalize | None:
    """The finalizer's job when `event` is one, else None (it is then a destination event for the collector)."""
    if isinstance(event, (bytes, bytearray)):
        if FINALIZE.encode() not in event[:64]:
            return None
        try:
            event = json.loads(event)
        except ValueError:
            return None
    if not isinstance(event, dict) or set(event) != {FINALIZE} or not isinstance(event[FINALIZE], dict):
        return None
    job = event[FINALIZE]
    instance_id, run_id, attempt = job.get("instance_id"), job.get("run_id"), job.get("attempt", 1)
    if not (isinstance(instance_id, str) and isinstance(run_id, str) and isinstance(attempt, int)
            and 0 < len(instance_id) <= 128 and 0 < len(run_id) <= 128 and 1 <= attempt <= FINALIZE_ATTEMPTS):
        return None
    return Finalize(instance_id, run_id, attempt)


# --- ending a run -------------------------------------------------------------------------------------------


def complete_stored(record: RunRecord) -> bool:
    """Every item of the run has a stored outcome."""
    return all(item in record.outcomes for item in record.run.items)


def after_collect(instance_id: str, run_id: str, complete: bool, deps: Deps) -> str:
    """Called by the collector once its outcome's write answered; `complete`: the store says every item of
    the run has an outcome stored (its write's condition decided it, nobody read the run)."""
    if deps.sink is None:
        return "no sink"
    if not complete:
        return "running"
    try:
        return end(instance_id, run_id, deps)
    except PrecheckError as error:  # the finalizer takes the mark over once it is stale, and publishes
        log.error("the completion event of run %s was not published: %s", run_id, error.message,
                  extra={"step": "publish", "status": "failed", "error_class": type(error).__name__,
                         "instance_id": instance_id, "run_id": run_id})
        return "publish failed"


def end(instance_id: str, run_id: str, deps: Deps, record: RunRecord | None = None) -> str:
    """Take the run's "ended" mark and publish its event; "published", or why not (someone else ends it).
    Only the mark's holder reads the run (unless given `record`), for its event."""
    if deps.sink is None:
        return "no sink"
    now = deps.clock()
    if not deps.store.begin_end(instance_id, run_id, uuid.uuid4().hex, now, now - LEASE_S):
        mark = deps.store.end_mark(instance_id, run_id)
        return "published already" if mark is not None and mark.state == "published" else "ending elsewhere"
    previous: RunRecord | None | bool = False  # False: not read yet
    if record is None:
        record, previous = _read_for_event(instance_id, run_id, deps)
        if record is None:  # expired meanwhile: nothing to tell
            return "no such run"
    run = record.run
    event = build_event(record, deps, now, previous)
    deps.sink.publish(event)
    deps.store.end_published(run.instance_id, run.run_id)
    log.info("run %s of %s ended %s", run.run_id, run.instance_id, event["data"]["status"],
             extra={"step": "run_completed", "instance_id": run.instance_id, "run_id": run.run_id,
                    "status": event["data"]["status"], "changed": len(event["data"]["changed"])})
    for name in run.items:  # one line per item, for the operator's queries (failures by item, slowest items)
        outcome = record.outcomes.get(name)
        if outcome is not None:
            log.info("item %s of run %s: %s", name, run.run_id, outcome.status.value,
                     extra={"step": "item_result", "instance_id": run.instance_id, "run_id": run.run_id,
                            "item": name, "status": outcome.status.value, "duration_ms": outcome.duration_ms})
    return "published"


def _read_for_event(instance_id: str, run_id: str, deps: Deps) -> tuple[RunRecord | None, RunRecord | None | bool]:
    """The run and the one before it: the instance's two latest runs in one batch (its current-run row names
    both) while the run is still its current one, each run's row read once; else the run alone (False: the
    run before it is not read yet)."""
    latest = deps.store.latest_runs([instance_id], 2).get(instance_id, [])
    if len(latest) == 2 and latest[0].run.run_id == run_id:
        return latest[0], latest[1]
    if latest and latest[0].run.run_id == run_id:
        return latest[0], False
    return deps.store.get_run(instance_id, run_id), False


def build_event(record: RunRecord, deps: Deps, now: float,
                previous: RunRecord | None | bool = False) -> dict[str, Any]:
    """The run's event, compared with the instance's run before it (None for its first; False: read it)."""
    run = record.run
    if previous is False:
        older, _ = deps.store.list_runs(run.instance_id, run.run_id, 1)
        previous = older[0] if older else None
    before = runevents.finished_view(previous) if isinstance(previous, RunRecord) else None
    return runevents.completed(runevents.finished_view(record), before, deps.console_url)


def finalize(job: Finalize, deps: Deps, settle: Callable[[RunRecord, Deps, float], RunRecord]) -> str:
    """The finalizer: at the run's deadline, store TIMED_OUT for every item without an outcome (`settle`:
    `service.settle`, the readers' own first-write-wins write) and end the run; while another ender holds a
    fresh mark, come back in `LEASE_S` (at most FINALIZE_ATTEMPTS times)."""
    if deps.sink is not None:  # its event published already (the usual case): nothing to read or settle
        mark = deps.store.end_mark(job.instance_id, job.run_id)
        if mark is not None and mark.state == "published":
            return "published already"
    record = deps.store.get_run(job.instance_id, job.run_id)
    if record is None:
        return "no such run"
    now = deps.clock()
    if now <= record.run.deadline:  # delivered early (FC counts the delay from its own clock)
        schedule_finalizer(job.instance_id, job.run_id, record.run.deadline, deps, job.attempt)
        return "early"
    record = settle(record, deps, now)
    if deps.sink is None:
        return "settled"
    try:
        result = end(job.instance_id, job.run_id, deps, record)
    except PrecheckError as error:
        log.error("the completion event of run %s was not published: %s", job.run_id, error.message,
                  extra={"step": "publish", "status": "failed", "error_class": type(error).__name__,
                         "instance_id": job.instance_id, "run_id": job.run_id})
        result = "publish failed"
    if result in ("ending elsewhere", "publish failed"):
        if job.attempt < FINALIZE_ATTEMPTS:
            schedule_finalizer(job.instance_id, job.run_id, record.run.deadline, deps, job.attempt + 1,
                               delay_s=retry_delay(job.attempt))
        else:
            log.error("run %s of %s: no completion event after %d finalizer attempts", job.run_id,
                      job.instance_id, job.attempt, extra={"step": "finalize", "status": "gave_up",
                                                           "instance_id": job.instance_id, "run_id": job.run_id})
    return result
