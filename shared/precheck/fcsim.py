"""A simulated Function Compute for the fleet recheck: asynchronous invocations wait in one queue in front of
`cap` instances, on a virtual clock, and drive the real service (recheck, start, collect, readers) and a
real store. For bench/fleet_queue.py (10,000 instances on 100) and tests/test_fleet_pacing.py.

What it models: FC's async queue, first in first out, shared by every function; each invocation holds one
instance while it runs; one waiting longer than `max_age_s` is dropped (FC's maximum event age); a check
runs the seconds `behaviour` gives it, or hangs, and then its runner answers TIMED_OUT at the item's own
limit; each outcome is delivered by its own collect_outcome invocation; and a reader reads every run at its
deadline, the worst case for an item still waiting: whatever is missing then is stored TIMED_OUT.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from . import layout, service
from .commands import CollectOutcome, RecheckPage
from .deps import Deps
from .models import CheckRequest, ItemStatus, Outcome
from .ports import ResultStore

#: (instance_id, item) -> the seconds the check runs, or None: it hangs (its runner stops it at its limit)
Behaviour = Callable[[str, str], float | None]
T0 = 1_800_000_000.0


class SimFc:
    def __init__(self, store: ResultStore, cap: int, behaviour: Behaviour, *, grace_s: float = 2.0,
                 max_age_s: float = 300.0, start_s: float = 0.05, collect_s: float = 0.02,
                 collect_first: bool = False):
        self.now = T0
        self.cap, self.behaviour, self.max_age_s = cap, behaviour, max_age_s
        self.start_s, self.collect_s = start_s, collect_s
        #: deliveries served before any queued check (FC's queues per function, served kindly); else one FIFO
        self.collect_first = collect_first
        self.deps = Deps(store=store, invoker=self, clock=lambda: self.now, sleep=self.sleep, grace_s=grace_s,
                         concurrency=cap, fanout_workers=1)
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._queue: deque[tuple[float, str, Any]] = deque()
        self._collects: deque[tuple[float, str, Any]] = deque()
        self._ids: set[str] = set()
        self._read: set[str] = set()
        self.busy = self.peak_busy = self.dropped = self.checks = 0
        self.max_wait_s = 0.0
        self.last_stored = T0

    # --- FC's async invocation API (the Invoker port) ------------------------------------------------------

    def invoke_async(self, function_name: str, payload: Any, invocation_id: str) -> None:
        if invocation_id in self._ids:
            return  # a stateful invocation id runs once
        self._ids.add(invocation_id)
        if function_name in layout.check_functions():
            request = CheckRequest.model_validate_json(payload)
            if request.run_id not in self._read:  # a reader reads the run at its deadline
                self._read.add(request.run_id)
                self._at(request.deadline + 0.001, lambda: self._read_run(request))
            payload = request
        queue = self._collects if self.collect_first and function_name == layout.COLLECT else self._queue
        queue.append((self.now, function_name, payload))
        self._at(self.now, self._dispatch)

    # --- the virtual clock ----------------------------------------------------------------------------------

    def _at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._seq), action))

    def run(self, until: float | None = None) -> None:
        """Play every event (up to `until`); a function that sleeps plays the others meanwhile."""
        while self._events and (until is None or self._events[0][0] <= until):
            when, _, action = heapq.heappop(self._events)
            self.now = max(self.now, when)
            action()
        if until is not None:
            self.now = max(self.now, until)

    def sleep(self, seconds: float) -> None:
        self.run(self.now + seconds)

    # --- instances ------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while self.busy < self.cap and (self._collects or self._queue):
            queued_at, function, payload = (self._collects or self._queue).popleft()
            if self.now - queued_at > self.max_age_s:
                self.dropped += 1
                continue
            self.max_wait_s = max(self.max_wait_s, self.now - queued_at)
            self.busy += 1
            self.peak_busy = max(self.peak_busy, self.busy)
            self._run(function, payload)

    def _release(self, after: float) -> None:
        def free() -> None:
            self.busy -= 1
            self._dispatch()
        self._at(self.now + after, free)

    def _run(self, function: str, payload: Any) -> None:
        if function == layout.START:
            service.recheck_page(RecheckPage.model_validate_json(payload), self.deps)
            self._release(self.start_s)
        elif function == layout.COLLECT:
            service.collect(payload, self.deps)
            self.last_stored = self.now
            self._release(self.collect_s)
        else:
            self._check(payload)

    def _check(self, request: CheckRequest) -> None:
        self.checks += 1
        seconds = self.behaviour(request.instance_id, request.item)
        limit = request.instance.item_timeout_s
        if seconds is None or seconds >= limit:
            outcome = Outcome(item=request.item, status=ItemStatus.TIMED_OUT, message="hung",
                              details={"reason": "time_limit"}, duration_ms=int(limit * 1000), finished_at=0)
            seconds = limit
        else:
            outcome = Outcome(item=request.item, status=ItemStatus.PASSED, message="ok",
                              duration_ms=int(seconds * 1000), finished_at=0)

        def finish() -> None:
            delivered = outcome.model_copy(update={"finished_at": self.now})
            self.invoke_async(layout.COLLECT, CollectOutcome(request=request, outcome=delivered),
                              f"collect_{request.run_id}_{request.item}")
            self.busy -= 1
            self._dispatch()
        self._at(self.now + seconds, finish)

    def _read_run(self, request: CheckRequest) -> None:
        record = self.deps.store.get_run(request.instance_id, request.run_id)
        if record is not None and len(record.outcomes) < len(record.run.items):
            service.settle(record, self.deps, self.now)
            self.last_stored = self.now

    # --- the recheck and its figures ------------------------------------------------------------------------

    def recheck(self, tag: str = "sim", paced: bool = True, page_size: int = 100) -> dict[str, Any]:
        """The timer's recheck; `paced=False` sends every page at once, as the recheck did before pacing."""
        if paced:
            service.recheck_all(self.deps, tag)
        else:
            after: str | None = None
            number = 0
            while True:
                page, after = self.deps.store.list_instances(after, page_size)
                ids = [instance.instance_id for instance in page]
                self.invoke_async(layout.START, RecheckPage(recheck=ids).model_dump_json().encode(), f"p{number}")
                number += 1
                if after is None:
                    break
        self.run()
        return self.figures()

    def figures(self) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        by_deadline = own_limit = 0
        after: str | None = None
        while True:
            page, after = self.deps.store.list_instances(after, 500)
            for instance in page:
                record = self.deps.store.latest_run(instance.instance_id)
                for outcome in record.outcomes.values() if record else ():
                    statuses[outcome.status.value] = statuses.get(outcome.status.value, 0) + 1
                    if outcome.status is ItemStatus.TIMED_OUT:
                        if outcome.details.get("reason") == "time_limit":
                            own_limit += 1
                        else:
                            by_deadline += 1
            if after is None:
                break
        return {"statuses": statuses, "timed_out_by_run_deadline": by_deadline,
                "timed_out_by_own_limit": own_limit, "checks_run": self.checks, "dropped_by_max_age": self.dropped,
                "peak_instances_busy": self.peak_busy, "max_queue_wait_s": round(self.max_wait_s, 2),
                "duration_s": round(self.last_stored - T0, 1)}
