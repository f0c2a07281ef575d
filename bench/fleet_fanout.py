"""Fleet fan-out: the timer's recheck of 10,000 registered instances, with FC's invoke API faked at 20 ms
per call (`responses` behind the real FcInvoker).

Level 1 (the timer's start_precheck) reads the registry page by page and invokes start_precheck once per
page; level 2 (one start_precheck per page, each its own FC instance) starts every instance of its page.
FC runs the level-2 invocations in parallel, so the fleet's time is level 1 plus the slowest page; here the
pages are replayed `BENCH_PAGE_PARALLEL` at a time on this machine and each page is timed. The baseline,
calling one by one, is the same path with no concurrency, timed on a sample and scaled to the fleet.
Targets: at least 16 times faster than one by one; level 1 and every page inside one function's limit.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402

INSTANCES = int(os.environ.get("BENCH_INSTANCES", "10000"))
CALL_S = float(os.environ.get("BENCH_CALL_MS", "20")) / 1000
PAGE_PARALLEL = int(os.environ.get("BENCH_PAGE_PARALLEL", "10"))
SAMPLE = int(os.environ.get("BENCH_SEQUENTIAL_SAMPLE", "100"))
FUNCTION_LIMIT_S = 300  # start_precheck's timeout in the deploy descriptors


def main() -> None:
    import re

    import responses

    from precheck import layout, local, service, wiring
    from precheck.adapters.fc_invoker import internal_endpoint
    from precheck.adapters.sqlite_store import SqliteResultStore
    from precheck.commands import RecheckPage
    from precheck.deps import Deps
    from precheck.envelopes import TimerEvent
    from precheck.models import Instance
    from precheck.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    store = SqliteResultStore(work / "precheck.db")
    for n in range(INSTANCES):
        store.save_instance(Instance(instance_id=f"inst-{n:05d}", region="cn-hangzhou", server="127.0.0.1,1",
                                     user="backup", password_ref="env:SQL_PW"))
    context = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id="STS.bench", access_key_secret="s", security_token="t"),
        service=SimpleNamespace(name=layout.SERVICE, qualifier="LATEST"), region="cn-hangzhou",
        account_id="1234567890123456", function=SimpleNamespace(name="start_precheck"), request_id="bench")
    settings = Settings.from_environ({})  # the FC context alone says where FC is
    pages: list[bytes] = []
    calls = {"n": 0}
    lock = threading.Lock()

    def fake_fc(request):
        time.sleep(CALL_S)
        with lock:
            calls["n"] += 1
            if "/functions/start_precheck/" in request.url:
                pages.append(request.body if isinstance(request.body, bytes) else request.body.encode())
        return 202, {"X-Fc-Request-Id": "bench"}, ""

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(re.escape(internal_endpoint(context.account_id, "cn-hangzhou"))
                                                     + r"/.*"), callback=fake_fc)

        def deps(workers: int) -> Deps:
            return Deps(store=store, invoker=wiring.make_fc_invoker(settings, context), grace_s=30.0,
                        fanout_workers=workers, page_size=100)

        # level 1: the timer event through the real handler
        wiring.use(deps(16))
        timer = TimerEvent(triggerTime="2026-11-25T02:00:00Z", triggerName="bench", payload="").to_bytes()
        started = time.perf_counter()
        summary = json.loads(local.call("start_precheck", timer))["summary"]
        level1_s = time.perf_counter() - started
        assert summary == {"pages": len(pages), "instances": INSTANCES}, summary

        # level 2: every page as its own start_precheck invocation, PAGE_PARALLEL at a time
        page_times: list[float] = []

        def run_page(body: bytes) -> None:
            page_started = time.perf_counter()
            result = service.recheck_page(RecheckPage.model_validate_json(body), deps(16))
            page_times.append(time.perf_counter() - page_started)
            assert result.get("started") == len(json.loads(body)["recheck"]), result

        calls_before = calls["n"]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=PAGE_PARALLEL) as pool:
            list(pool.map(run_page, list(pages)))
        replay_s = time.perf_counter() - started
        check_invocations = calls["n"] - calls_before

        # baseline: one by one, on a sample of fresh instances, scaled to the fleet
        for n in range(SAMPLE):
            store.save_instance(Instance(instance_id=f"seq-{n:05d}", region="cn-hangzhou", server="127.0.0.1,1",
                                         user="backup", password_ref="env:SQL_PW"))
        started = time.perf_counter()
        service.recheck_page(RecheckPage(recheck=[f"seq-{n:05d}" for n in range(SAMPLE)]), deps(1))
        per_instance_s = (time.perf_counter() - started) / SAMPLE
    wiring.use(None)
    fleet_s = level1_s + max(page_times)
    sequential_s = per_instance_s * INSTANCES + len(pages) * CALL_S
    emit("fleet_fanout", {
        "instances": INSTANCES,
        "fake_call_ms": CALL_S * 1000,
        "pages": len(pages),
        "check_invocations": check_invocations,
        "level1_s": round(level1_s, 3),
        "slowest_page_s": round(max(page_times), 3),
        "median_page_s": round(sorted(page_times)[len(page_times) // 2], 3),
        "fleet_s": round(fleet_s, 3),
        "replay_wall_s_with_parallel_pages": {"parallel": PAGE_PARALLEL, "seconds": round(replay_s, 3)},
        "one_by_one_estimate_s": round(sequential_s, 1),
        "one_by_one_per_instance_ms": round(per_instance_s * 1000, 1),
        "speedup": round(sequential_s / fleet_s, 1),
        "target_speedup": 16,
        "function_limit_s": FUNCTION_LIMIT_S,
        "met": sequential_s / fleet_s >= 16 and level1_s < FUNCTION_LIMIT_S and max(page_times) < FUNCTION_LIMIT_S,
    })


if __name__ == "__main__":
    main()
