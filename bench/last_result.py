"""get_last_result with 10 and with 1,000,000 stored runs of the instance: the latest run must be one indexed
read whatever the history. Measured through the real handler, side by side in one run.
Target: ratio (1,000,000 / 10) at most 1.5.

Stores: SQLite, and Tablestore through its emulator (BENCH_TABLESTORE=0 skips it; the emulator holds
every row in memory: its own lookup cost is part of that figure).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median, ms  # noqa: E402

SMALL, LARGE = 10, int(os.environ.get("BENCH_RUNS_LARGE", "1000000"))
CALLS = int(os.environ.get("BENCH_CALLS", "301"))


def seed_sqlite(path: Path, runs: int):
    from precheck.adapters.sqlite_store import SqliteResultStore
    from precheck.models import Instance, ItemStatus, Outcome, Run

    store = SqliteResultStore(path)
    store.save_instance(Instance(instance_id="bench", region="cn-hangzhou", server="127.0.0.1,1", user="backup",
                                 password_ref="env:SQL_PW"))
    template = Run(run_id="0", instance_id="bench", items=["oss_connectivity", "control_network", "recovery_mode",
                                                         "database_status"], created_at=0, deadline=0)
    body = template.model_dump()
    rows = []
    for n in range(runs):
        run_id = f"{1_700_000_000_000 + n * 1000:013d}-{n:08x}"
        rows.append(("bench", run_id, json.dumps({**body, "run_id": run_id, "created_at": n, "deadline": n + 12})))
        if len(rows) == 50_000 or n == runs - 1:
            with store._lock:
                store._db.executemany("INSERT INTO runs (instance_id, run_id, body) VALUES (?, ?, ?)", rows)
            rows = []
    latest = f"{1_700_000_000_000 + (runs - 1) * 1000:013d}-{runs - 1:08x}"
    for item in template.items:
        store.record_outcome("bench", latest, Outcome(item=item, status=ItemStatus.PASSED, message="ok"))
    return store, latest


def time_handler(store, latest: str) -> list[float]:
    from precheck import local, wiring
    from precheck.deps import Deps
    from precheck.envelopes import ApiRequest

    class NoInvoker:
        def invoke_async(self, *args):
            raise AssertionError("get_last_result invokes nothing")

    wiring.use(Deps(store=store, invoker=NoInvoker()))
    event = ApiRequest.build("GET", "/instances/bench/prechecks/latest", {"instance_id": "bench"}).to_bytes()
    times = []
    try:
        for _ in range(CALLS):
            started = time.perf_counter()
            answer = json.loads(local.call("get_last_result", event))
            times.append(time.perf_counter() - started)
            assert answer["statusCode"] == 200 and json.loads(answer["body"])["run_id"] == latest
    finally:
        wiring.use(None)
    return times


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-last-"))
    figures = {}
    started = time.perf_counter()
    small = seed_sqlite(work / "small.db", SMALL)
    large = seed_sqlite(work / "large.db", LARGE)
    seed_s = time.perf_counter() - started
    small_times, large_times = [], []
    for _ in range(3):  # interleave rounds so drift hits both alike
        small_times += time_handler(*small)
        large_times += time_handler(*large)
    ratio = median(large_times) / median(small_times)
    figures["sqlite"] = {"runs_small": SMALL, "runs_large": LARGE, "median_small_ms": ms(median(small_times)),
                         "median_large_ms": ms(median(large_times)), "ratio": round(ratio, 3),
                         "seed_s": round(seed_s, 1)}
    met = ratio <= 1.5
    if os.environ.get("BENCH_TABLESTORE", "1") == "1":
        from _tablestore_seed import seeded_tablestore

        with seeded_tablestore(SMALL) as small_ts, seeded_tablestore(LARGE) as large_ts:
            small_times, large_times = [], []
            for _ in range(3):
                small_times += time_handler(*small_ts)
                large_times += time_handler(*large_ts)
        ts_ratio = median(large_times) / median(small_times)
        figures["tablestore_emulator"] = {"runs_small": SMALL, "runs_large": LARGE,
                                          "median_small_ms": ms(median(small_times)),
                                          "median_large_ms": ms(median(large_times)), "ratio": round(ts_ratio, 3)}
        met = met and ts_ratio <= 1.5
    emit("last_result", {**figures, "target_ratio": 1.5, "met": met})


if __name__ == "__main__":
    main()
