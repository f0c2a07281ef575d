"""What ending each run costs (issue 17, point 2): the invocations and store calls a run makes with and without
its finalizer, measured through the real handlers (in-process invoker, SQLite store, stand-in checks), and the
monthly invocations of the finalizer against a timer sweep, for fleets rechecked nightly.

Figures: `invocations_per_run` by function (the finalizer is one collect_outcome invocation at the deadline),
`store_calls_per_run` with and without events, and for each fleet size the finalizer's invocations per month
against a sweep every minute (43,200 a month whatever the fleet, each reading every run past its deadline).
Issue 16 (a collector reads no run: its write says whether the run is complete; the finalizer stops at a
published mark) took the store calls per run from 44 to 22 with events (28 to 17 without).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "shared")]

from _common import drain_through_deadline, emit  # noqa: E402

from precheck import local  # noqa: E402
from precheck.adapters.inprocess_invoker import InProcessInvoker  # noqa: E402
from precheck.adapters.sqlite_store import SqliteResultStore  # noqa: E402
from precheck.checks import all_items  # noqa: E402
from precheck.deps import Deps  # noqa: E402
from precheck.layout import destination_of  # noqa: E402
from precheck.models import CheckRequest, ItemStatus, Outcome  # noqa: E402
from precheck.testing import Client  # noqa: E402
from tests.event_fakes import ListSink, ManualLater  # noqa: E402
from tests.fakes import Clock, instance  # noqa: E402

DAYS = 30
SWEEP_PER_MONTH = DAYS * 24 * 60


def check(event: bytes, context: Any) -> str:
    request = CheckRequest.model_validate_json(event)
    return Outcome(item=request.item, status=ItemStatus.PASSED, message="ok", finished_at=1.0).model_dump_json()


class Counting:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted if callable(attribute) else attribute


def one_run(with_events: bool, workdir: Path) -> tuple[Counter, Counter]:
    invocations: Counter = Counter()
    real = {name: local.DEFAULT.load(name) for name in ("start_precheck", "collect_outcome")}

    def counted(name: str, handler: Any) -> Any:
        def run(event: bytes, context: Any) -> Any:
            invocations[name] += 1
            return handler(event, context)
        return run

    handlers = {**{f"check_{item.name}": check for item in all_items()}, **real}
    functions = local.Functions.of({name: counted(name, handler) for name, handler in handlers.items()})
    clock = Clock()
    later = ManualLater(clock)
    invoker = InProcessInvoker(functions, destination_of, max_workers=4, later=later)
    store = Counting(SqliteResultStore(workdir / f"{with_events}.db"))
    deps = Deps(store=store, invoker=invoker, clock=clock, grace_s=30.0, sink=ListSink() if with_events else None,
                scheduler=invoker if with_events else None)
    with Client(deps, functions) as client:
        client.http.post("/instances", json=instance().model_dump(mode="json"))
        drain_through_deadline(client, later, clock, 30)
    return invocations, store.calls


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        base_invocations, base_calls = one_run(False, Path(directory))
        invocations, calls = one_run(True, Path(directory))
    finalizers = invocations["collect_outcome"] - base_invocations["collect_outcome"]
    fleets = {}
    for size in (10, 100, 1000, 10_000):
        runs = size * DAYS  # one nightly recheck each
        fleets[str(size)] = {"finalizer_invocations_per_month": runs * finalizers,
                             "sweep_invocations_per_month": SWEEP_PER_MONTH,
                             "run_invocations_per_month": runs * sum(invocations.values())}
    emit("run_events", {"invocations_per_run": dict(invocations), "finalizers_per_run": finalizers,
                        "store_calls_per_run_without_events": sum(base_calls.values()),
                        "store_calls_per_run_with_events": sum(calls.values()),
                        "store_calls_added": dict(calls - base_calls), "fleets_nightly": fleets})


if __name__ == "__main__":
    main()
