"""The precheck, as the handlers use it: register, start, collect, read the last result, recheck the fleet.

Pure orchestration over the interfaces in `precheck.ports`; no SDK, no driver, no event shapes: the
handlers turn events into the commands of `precheck.commands`, and this module acts on them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import checks, completion, fleet
from .checks import CheckItem
from .commands import (
    CollectOutcome,
    RecheckFleet,
    RecheckPage,
    RegisterBatch,
    RegisterInstance,
    StartCommand,
    StartPrecheck,
)
from .deps import Deps
from .layout import START
from .models import CheckRequest, Instance, ItemStatus, Outcome, Run, RunStatus, RunView, new_run_id
from .ports import NotFound, PrecheckError, RunRecord, StoreError
from .portvalues import Collected, Started, StartResult
from .registration import UnknownItems, register

log = logging.getLogger("precheck.service")

__all__ = ["Deps", "StartResult", "Started", "collect", "handle_start", "last_result", "start", "view"]


# --- views ----------------------------------------------------------------------------------------------


def view(record: RunRecord, now: float) -> RunView:
    """A run as users see it; items without an outcome past the deadline are TIMED_OUT."""
    run = record.run
    items: list[Outcome] = []
    for name in run.items:
        outcome = record.outcomes.get(name)
        if outcome is None:
            if now > run.deadline:
                outcome = timed_out(run, name, _code(name))
            else:
                outcome = Outcome(item=name, code=_code(name), status=ItemStatus.PENDING, message="running",
                                  finished_at=0)
        items.append(outcome)
    done = sum(1 for item in items if item.status.terminal)
    if done < len(items):
        status = RunStatus.RUNNING
    elif items:
        status = RunStatus(max(items, key=lambda item: item.status.severity).status.value)
    else:
        status = RunStatus.PASSED
    return RunView(run_id=run.run_id, instance_id=run.instance_id, status=status,
                   progress=(100 * done // len(items)) if items else 100, created_at=run.created_at,
                   deadline=run.deadline, trigger=run.trigger, items=items)


def timed_out(run: Run, item: str, code: str, late: Outcome | None = None, now: float = 0.0) -> Outcome:
    """The outcome of an item that missed the run's deadline: never reported, or (`late`) reported after it."""
    if late is None:
        return Outcome(item=item, code=code, status=ItemStatus.TIMED_OUT, message="no outcome by the run's deadline",
                       advice="The check function did not report in time: see its logs and its async invocation "
                              "settings.",
                       finished_at=run.deadline, details={"reason": "deadline"})
    return late_outcome(run.deadline, item, code, late, now)


def late_outcome(deadline: float, item: str, code: str, late: Outcome, now: float) -> Outcome:
    """TIMED_OUT for an outcome that arrived at `now`, after the run's `deadline`."""
    return Outcome(item=item, code=code, status=ItemStatus.TIMED_OUT,
                   message=f"no outcome by the run's deadline (it arrived {now - deadline:.1f} s late, "
                           f"{late.status.value}: {late.message[:200]})",
                   duration_ms=late.duration_ms, finished_at=deadline,
                   details={"reason": "late", "late_status": late.status.value})


def _code(item: str) -> str:
    for known in checks.all_items():
        if known.name == item:
            return known.code
    return ""


# --- registration and start -----------------------------------------------------------------------------


def start(instance_id: str, deps: Deps, trigger: str = "api") -> Started:
    instance = deps.store.get_instance(instance_id)
    if instance is None:
        raise NotFound(f"no registered instance {instance_id!r}")
    return start_instance(instance, deps, trigger)


#: how many times a start reads the current run again after another start replaced it first
MAX_CLAIMS = 50
#: how long a start waits for a run claimed by another start to be created before completing its launch
LAUNCH_WAIT_S = 0.5


def start_instance(instance: Instance, deps: Deps, trigger: str = "api") -> Started:
    """Start a run of `instance`, or return its run still RUNNING (started False).

    One run per instance at a time under any concurrency: the new run becomes the instance's current run by
    the store's conditional write (`claim_run`), replacing the current run this start read and found
    finished or past its deadline; of concurrent starts exactly one wins, the others read again and return
    the winner's run. The winner creates the run and invokes the checks; a start that finds the current run
    claimed but not created (its start failed or crashed after the claim, or is still on its way) completes
    that launch: creating a run and invoking a check with its (run, item) invocation id are idempotent, so a
    launch done twice is done once."""
    items = deps.items()
    for _ in range(MAX_CLAIMS):
        now = deps.clock()
        holder = deps.store.current_run(instance.instance_id)
        record: RunRecord | None
        if holder is not None:
            state = _created(deps, holder)
            if state is None and now <= holder.deadline:
                _launch(instance, holder, items, deps)
                record = deps.store.get_run(instance.instance_id, holder.run_id) or RunRecord(run=holder)
                return Started(view(record, now), started=False)
            # RUNNING while an item has no outcome and the deadline has not passed (past it, the missing items
            # are TIMED_OUT): only a run still RUNNING is read whole, to be returned (issue 16: a run's row is
            # hundreds of KB at 32,767 databases)
            record = None
            if state is not None and not state[1] and now <= state[0].deadline:
                record = deps.store.get_run(instance.instance_id, holder.run_id)
        else:  # never claimed (or its row expired): a run from before current runs existed may still be running
            record = deps.store.latest_run(instance.instance_id)
        if record is not None:
            current = view(record, now)
            if current.status is RunStatus.RUNNING:
                return Started(current, started=False)
        run = Run(run_id=new_run_id(now), instance_id=instance.instance_id, items=[item.name for item in items],
                  created_at=now, deadline=now + instance.item_timeout_s + deps.grace_s, trigger=trigger)
        if deps.store.claim_run(run, holder.run_id if holder is not None else None):
            return _launch(instance, run, items, deps)
    raise StoreError("contention", f"could not start a run of {instance.instance_id}: the current run was "
                                   f"replaced {MAX_CLAIMS} times while this start read it")


def _created(deps: Deps, claimed: Run) -> tuple[Run, bool] | None:
    """The claimed run once created, and whether it is complete: its claimer creates it right after the claim,
    so give it a moment (LAUNCH_WAIT_S) before concluding that its start failed."""
    waited = 0.0
    while True:
        record = deps.store.run_complete(claimed.instance_id, claimed.run_id)
        if record is not None or waited >= LAUNCH_WAIT_S:
            return record
        time.sleep(0.02)
        waited += 0.02


def _launch(instance: Instance, run: Run, items: list[CheckItem], deps: Deps) -> Started:
    """Create the run this start claimed and invoke one check per item (SKIPPED items are stored at once)."""
    now = run.created_at
    deps.store.create_run(run)
    record = RunRecord(run=run)
    completion.schedule_at_deadline(run, deps)  # the deadline is enforced by the product, not by a reader
    calls = []
    for item in items:
        skipped = checks.skip_reason(instance, item)
        if skipped:
            _store_outcome(deps, record, Outcome(item=item.name, code=item.code, status=ItemStatus.SKIPPED,
                                                 message=skipped, finished_at=now))
            continue
        request = CheckRequest(run_id=run.run_id, instance=instance, item=item.name, deadline=run.deadline)
        calls.append((item, request))

    def invoke(call: tuple[CheckItem, CheckRequest]) -> Outcome | None:
        item, request = call
        try:
            deps.invoker.invoke_async(item.function_name, request.model_dump_json().encode("utf-8"),
                                      invocation_id(run.run_id, item.name))
            return None
        except PrecheckError as error:
            return Outcome(item=item.name, code=item.code, status=ItemStatus.ERROR,
                           message=f"could not start the check function {item.function_name}: {error.message}",
                           details={"reason": "invoke_failed"}, finished_at=deps.clock())

    for failed in _concurrently(invoke, calls, deps.fanout_workers):
        if failed is not None:
            _store_outcome(deps, record, failed)
    log.info("started run %s of %s (%s)", run.run_id, instance.instance_id, run.trigger)
    return Started(view(record, now), started=True)


def _store_outcome(deps: Deps, record: RunRecord, outcome: Outcome) -> None:
    if deps.store.record_outcome(record.run.instance_id, record.run.run_id, outcome):
        record.outcomes[outcome.item] = outcome


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def invocation_id(run_id: str, item: str) -> str:
    """FC's stateful invocation id for (run, item): `[A-Za-z_][A-Za-z0-9_-]{0,127}`."""
    return _UNSAFE.sub("_", f"r{run_id}_{item}")[:128]


def _concurrently(function: Callable[[Any], Any], calls: list, workers: int) -> Iterable:
    if len(calls) <= 1 or workers <= 1:
        return [function(call) for call in calls]
    with ThreadPoolExecutor(max_workers=min(workers, len(calls)), thread_name_prefix="fanout") as pool:
        return list(pool.map(function, calls))


# --- collection -----------------------------------------------------------------------------------------


def collect(delivery: CollectOutcome, deps: Deps) -> Collected:
    """Store one delivered outcome. First write wins; an outcome collected after the run's deadline (the
    request carries it) is recorded as TIMED_OUT, exactly as readers already showed it, so a late or repeated
    delivery changes nothing. The run is not read: the store's conditional write refuses an unknown run or
    item and a repeat, and says whether this outcome completed the run (issue 16: a collect reads no more
    than it writes; only the collector that ends the run reads it, for its event)."""
    request = delivery.request
    outcome = outcome_of(delivery)
    now = deps.clock()
    if now > request.deadline:
        outcome = late_outcome(request.deadline, request.item, outcome.code, outcome, now)
    recorded = deps.store.record_outcome(request.instance_id, request.run_id, outcome)
    if recorded.missing == "run":
        return Collected(False, f"no run {request.run_id} of instance {request.instance_id}")
    if recorded.missing:
        return Collected(False, f"run {request.run_id} has no item {request.item!r}")
    # the last outcome stored ends the run; a repeat of a complete run ends it too (a crash may have stopped
    # the collector that completed it before its event)
    completion.after_collect(request.instance_id, request.run_id, recorded.complete, deps)
    return Collected(recorded.stored,
                     "stored" if recorded.stored else "duplicate: this item's outcome is already stored")


def outcome_of(delivery: CollectOutcome) -> Outcome:
    """What a delivery means for its item: the check's own outcome, or an ERROR saying why there is none."""
    item = delivery.request.item
    base: dict[str, Any] = {"item": item}
    if delivery.finished_at:
        base["finished_at"] = delivery.finished_at
    if delivery.failure is not None:
        failure = delivery.failure
        reason = f"{failure.error_type}: {failure.error_message}" if failure.error_message else failure.error_type
        return Outcome(**base, status=ItemStatus.ERROR, message=f"the check function failed: {reason}",
                       advice="See the check function's logs for this request id; the item is retried on the next "
                              "precheck.",
                       details={"reason": "function_error", "error_type": failure.error_type,
                                "request_id": delivery.request_id, "attempts": delivery.attempts})
    outcome = delivery.outcome
    if outcome is None:
        return Outcome(**base, status=ItemStatus.ERROR,
                       message=f"the check function returned no readable outcome ({delivery.unreadable})",
                       details={"reason": "bad_outcome", "request_id": delivery.request_id})
    if outcome.item != item:
        return Outcome(**base, status=ItemStatus.ERROR,
                       message=f"the check function answered for item {outcome.item!r}, not {item!r}",
                       details={"reason": "bad_outcome"})
    if outcome.status is ItemStatus.PENDING:
        return outcome.model_copy(update={"status": ItemStatus.ERROR, "message": "the check returned no verdict"})
    return outcome


# --- reading --------------------------------------------------------------------------------------------


def last_result(instance_id: str, deps: Deps) -> RunView:
    record = deps.store.latest_run(instance_id)
    if record is None:
        if deps.store.get_instance(instance_id) is None:
            raise NotFound(f"no registered instance {instance_id!r}")
        raise NotFound(f"instance {instance_id!r} has no precheck yet")
    now = deps.clock()
    return view(settle(record, deps, now), now)


def settle(record: RunRecord, deps: Deps, now: float) -> RunRecord:
    """`record` as stored once every item without an outcome past the deadline is recorded TIMED_OUT.

    A reader shows TIMED_OUT only once it is stored, by the same first-write-wins write as the collector's:
    whichever lands first is what everybody sees from then on, so an item never flips from TIMED_OUT to a
    late outcome, whatever the store's latency between a collector's deadline check and its write (issue 11,
    finding 4). A reader whose write lost shows the outcome that won."""
    run = record.run
    missing = [name for name in run.items if name not in record.outcomes] if now > run.deadline else []
    lost = False
    for name in missing:
        outcome = timed_out(run, name, _code(name))
        if deps.store.record_outcome(run.instance_id, run.run_id, outcome):
            record.outcomes[name] = outcome
        else:
            lost = True
    if lost:
        return deps.store.get_run(run.instance_id, run.run_id) or record
    return record


# --- the fleet ------------------------------------------------------------------------------------------


def recheck_all(deps: Deps, tag: str) -> dict:
    """Recheck every registered instance, paced to `deps.concurrency` FC instances (precheck.fleet): invoke
    the chain's first link. A timer event repeated by FC names the same link, which runs once."""
    link = fleet.first_link(tag, deps.clock())
    deps.invoker.invoke_async(START, link.model_dump_json().encode("utf-8"), _link_id(link))
    return {"paced": True, "concurrency": deps.concurrency}


def _link_id(link: RecheckPage) -> str:
    return _UNSAFE.sub("_", f"recheck_{link.tag}_{link.link}")[:128]


def recheck_page(page: RecheckPage, deps: Deps) -> dict:
    """Start a precheck of every instance of one page (or one paced link: then invoke the next link); an
    instance that fails does not stop the others."""

    def one(instance_id: str) -> tuple[str, str | None]:
        try:
            current = deps.store.current_run(instance_id) if page.paced else None
            if current is not None and current.created_at >= page.since:  # a link run again: started already
                return "already", current.run_id
            started = start(instance_id, deps, trigger=page.trigger)
            return ("started" if started.started else "running"), started.run.run_id
        except NotFound:
            return "unknown", None
        except PrecheckError as error:
            log.error("recheck of %s failed: %s", instance_id, error.message)
            return "failed", None

    if page.paced:
        summary, after = fleet.run_link(page, deps, one)
        if after is not None:  # an invocation FC refuses fails this link: FC's retry runs it again
            deps.invoker.invoke_async(START, after.model_dump_json().encode("utf-8"), _link_id(after))
        return summary
    summary = {}
    for result, _ in _concurrently(one, page.recheck, deps.fanout_workers):
        summary[result] = summary.get(result, 0) + 1
    return summary


# --- start_precheck's one entry point -------------------------------------------------------------------


def handle_start(command: StartCommand, deps: Deps) -> StartResult:
    if isinstance(command, StartPrecheck):
        return StartResult(started=start(command.instance_id, deps, command.trigger))
    if isinstance(command, RegisterInstance):
        # claimed only once its work is done: EventBridge's retry after any failure (by default 3 retries
        # 10-20 s apart: https://alibabacloud.com/help/en/eventbridge/user-guide/retry-and-dead-letter) does
        # the work again, which changes nothing (the same instance saved; the start returns its run)
        if command.event_key is not None and deps.store.event_claimed(command.event_key):
            return StartResult(instance=command.instance, duplicate=True)
        updated = register(command.instance, deps)
        started = start_instance(command.instance, deps, command.trigger)
        if command.event_key is not None:
            deps.store.claim_event(command.event_key)
        return StartResult(instance=command.instance, started=started, updated=updated)
    if isinstance(command, RecheckFleet):
        return StartResult(summary=recheck_all(deps, command.tag))
    if isinstance(command, RecheckPage):
        return StartResult(summary=recheck_page(command, deps))
    if isinstance(command, RegisterBatch):
        summary, rejected = {"registered": 0, "duplicates": 0}, list(command.rejected)
        for registration in command.registrations:
            try:
                summary["duplicates" if handle_start(registration, deps).duplicate else "registered"] += 1
            except UnknownItems as error:
                rejected.append(f"instance {registration.instance.instance_id}: {error}")
        summary["rejected"] = len(rejected)
        return StartResult(summary={**summary, "errors": rejected} if rejected else summary)
    raise TypeError(f"unknown start command {type(command).__name__}")
