"""Fleet recheck against FC's concurrency (issue 12, point 7): 10,000 instances, four checks each, on a
region's default 100 FC instances, played on precheck.fcsim (FC's async queue, first in first out, in front
of the instance cap, FC's maximum event age, a virtual clock) through the real service and a SQLite store.

Before: every page of the fleet invoked at once (the recheck as it was): checks and their deliveries wait in
FC's queue past their runs' deadlines, or past the maximum event age (one FIFO queue for every function;
and, kinder, deliveries served before any queued check). After: the recheck paced to the cap
(precheck.fleet). Each check takes 0.3-3 s (the same for the same instance and item), one in
`BENCH_HANG_EVERY` hangs and is stopped by its own limit (10 s); runs have the deployed grace (30 s).
Target: 0 items TIMED_OUT by the run's deadline (queueing), every hung check TIMED_OUT by its own limit;
the figures give the recheck's duration.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import emit  # noqa: E402

INSTANCES = int(os.environ.get("BENCH_INSTANCES", "10000"))
CAP = int(os.environ.get("BENCH_CAP", "100"))
HANG_EVERY = int(os.environ.get("BENCH_HANG_EVERY", "500"))


def behaviour(instance_id: str, item: str) -> float | None:
    draw = random.Random(f"{instance_id}/{item}")
    return None if draw.randrange(HANG_EVERY) == 0 else draw.uniform(0.3, 3.0)


def play(paced: bool, collect_first: bool = False) -> dict:
    from deploy.descriptors import spec
    from precheck.adapters.sqlite_store import SqliteResultStore
    from precheck.fcsim import SimFc
    from precheck.models import Instance
    from precheck.timeouts import DEPLOYED_GRACE_S

    store = SqliteResultStore(Path(tempfile.mkdtemp(prefix="bench-fleet-queue-")) / "precheck.db")
    for n in range(INSTANCES):
        store.save_instance(Instance(instance_id=f"inst-{n:05d}", region="cn-hangzhou", server="10.0.1.15",
                                     user="backup", password_ref="env:SQL_PW"))
    sim = SimFc(store, cap=CAP, behaviour=behaviour, grace_s=DEPLOYED_GRACE_S, max_age_s=spec.ASYNC_MAX_AGE_S,
                collect_first=collect_first)
    started = time.perf_counter()
    figures = sim.recheck(tag="bench", paced=paced)
    return {**figures, "simulated_in_s": round(time.perf_counter() - started, 1)}


def main() -> None:
    from precheck import checks
    from precheck.models import DEFAULT_ITEM_TIMEOUT_S
    from precheck.timeouts import DEPLOYED_GRACE_S

    items = [item.name for item in checks.all_items()]
    hung = sum(1 for n in range(INSTANCES) for item in items if behaviour(f"inst-{n:05d}", item) is None)
    before, kind, after = play(paced=False), play(paced=False, collect_first=True), play(paced=True)
    emit("fleet_queue", {
        "instances": INSTANCES, "fc_instances": CAP, "checks": INSTANCES * len(items), "hung_checks": hung,
        "item_limit_s": DEFAULT_ITEM_TIMEOUT_S, "grace_s": DEPLOYED_GRACE_S,
        "before_all_at_once": before, "before_deliveries_served_first": kind, "after_paced": after,
        "duration_min": round(after["duration_s"] / 60, 1),
        "met": after["timed_out_by_run_deadline"] == 0 and after["timed_out_by_own_limit"] == hung
        and after["dropped_by_max_age"] == 0,
    })


if __name__ == "__main__":
    main()
