"""End-to-end latency of a precheck: start -> every item collected -> last result complete, in two shapes.

Both through the real handlers and the in-process invoker, against loopback endpoints and the SQL Server
emulator (in its own process), compared side by side in one run with the items' own work (below).

1. `sqlite` (the laptop's shape, as before): the SQLite store, no async latency. Target: median <= the
   items' own work + 50 ms.
2. `tablestore` (the cloud's shape): the Tablestore store through the Tablestore emulator on loopback (in its
   own process, as the service is; over the SDK's HTTP wire), and the invoker delaying each async hop by
   `BENCH_HOP_MS` (20 ms by default; `InProcessInvoker(hop_s=...)`). Target: median <= the items' own work
   + the modelled hops + 50 ms.

The modelled hops, the critical path from "Start Check" to a complete last result: `start_precheck` creates
the run and invokes each check asynchronously (1 hop: FC persists the request in its queue and a worker starts
the function later, "Asynchronous invocation", https://www.alibabacloud.com/help/en/functioncompute/fc/asynchronous-invocation);
the check runs; FC delivers its result to `collect_outcome` through the async destination (1 hop: the
destination is itself an asynchronous invocation, "Destinations for asynchronous invocations",
https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/result-callback); `collect_outcome` stores the
outcome; the run is complete when the last item's outcome is stored, and `get_last_result` reads it (a
synchronous call, no hop). The items run in parallel, so their hops overlap: the path counts 2 hops, whatever
the number of items. The completion is not on it: the run's event, when a sink is configured, is published by
that same collector after its write (no further hop), and the finalizer is a delayed invocation at the
run's deadline, which a run whose items all report never waits for. This benchmark configures no sink.

Baseline (both shapes): the items' own work done the same way without the product around it: every item's
check (`runner.run_check`, its probes, its SQL logins and queries, its verdict) started at once in threads,
with no store, invoker, destination or event. With eleven items, nine logging in to SQL Server at once, a
single probe alone does not bound the run on this machine (the emulator and this process share two cores);
the slowest single probe alone is still printed, and for the cloud's shape also slowest probe + hops.
The two shapes and their baselines are measured in turn within each round, so drift hits them alike.

Also printed, for the cost script: each item's median `duration_ms` from the outcomes stored by each shape
(`item_duration_ms`), and for the Tablestore shape the store calls one precheck makes, by method, with the
time they took (`tablestore.profile`, from three runs outside the timed ones); for each shape, the critical
path in segments (`critical_path_ms`: start, hop, check, hop, collect, read; see `critical_path`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median, ms, start_emulator, timed  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "31"))
HOP_S = float(os.environ.get("BENCH_HOP_MS", "20")) / 1000
#: async hops on the critical path: start -> check (invocation), check -> collect_outcome (destination)
HOPS_ON_PATH = 2
TARGET_MS = 50


class Profiled:
    """A store that counts and times each call it passes on (for one extra run, never a timed one)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if not callable(attribute):
            return attribute

        def profiled(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - started

        return profiled


def tablestore_store(stack: ExitStack) -> Any:
    """The real `TablestoreResultStore`, its tables created through the SDK, on the Tablestore emulator in its
    own process on loopback (as the service is not in the function's process, nor is the SQL Server here)."""
    from precheck.adapters.credentials import Credentials
    from precheck.adapters.tablestore import Connection, TableNames, TablestoreResultStore, create_tables
    from precheck.launch import Child

    emu = Child("tablestore", ["--port", "0", "--access-key-id", "bench", "--access-key-secret", "bench-secret",
                               "--instance", "bench"])
    stack.callback(emu.stop)
    client = Connection(emu.address, "bench", 5.0).client(Credentials("bench", "bench-secret"))
    tables = TableNames()
    create_tables(client, tables)
    return TablestoreResultStore(client, tables)


def main() -> None:
    from precheck import local, wiring
    from precheck.adapters.inprocess_invoker import InProcessInvoker
    from precheck.adapters.network import SocketNetworkProbe
    from precheck.adapters.sqlite_store import SqliteResultStore
    from precheck.adapters.sqlserver import PyodbcConnector
    from precheck.checks._sql import DATABASES_SQL, VISIBILITY_SQL
    from precheck.demo import DEMO_CATALOG
    from precheck.deps import Deps
    from precheck.envelopes import ApiRequest
    from precheck.layout import destination_of
    from precheck.models import Endpoint
    from precheck.sqltarget import SqlTarget

    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    password = "Bench-Pa55"
    os.environ["BENCH_SQL_PW"] = password
    catalog = json.loads(json.dumps(DEMO_CATALOG))
    catalog["logins"][0]["password"] = password
    emulator = start_emulator(catalog, work)
    pool: ThreadPoolExecutor | None = None
    from precheck.testing import Listener

    oss, control = Listener(backlog=1024), Listener(backlog=1024)  # the kernel completes handshakes
    spans: list[Span] = []  # each function's start and end in the current precheck, for its critical path
    functions = recorded_functions(local.DEFAULT, spans)
    try:
        with ExitStack() as stack:
            shapes: dict[str, Deps] = {
                "sqlite": Deps(store=SqliteResultStore(work / "precheck.db"),
                               invoker=InProcessInvoker(functions, destination_of), grace_s=2.0),
                "tablestore": Deps(store=tablestore_store(stack),
                                   invoker=InProcessInvoker(functions, destination_of, hop_s=HOP_S),
                                   grace_s=2.0),
            }
            instance = {"instance_id": "bench", "region": "cn-hangzhou", "server": f"127.0.0.1,{emulator.port}",
                        "user": "backup", "password_ref": "env:BENCH_SQL_PW",
                        "oss_endpoint": f"127.0.0.1:{oss.port}",
                        "control_endpoint": f"127.0.0.1:{control.port}", "item_timeout_s": 10, "encrypt": "off"}
            register = ApiRequest.build("POST", "/instances", {}, instance).to_bytes()
            start = ApiRequest.build("POST", "/instances/bench/prechecks", {"instance_id": "bench"}, "").to_bytes()
            last = ApiRequest.build("GET", "/instances/bench/prechecks/latest",
                                    {"instance_id": "bench"}).to_bytes()
            durations: dict[str, defaultdict[str, list[int]]] = {name: defaultdict(list) for name in shapes}
            paths: dict[str, list[dict[str, float]]] = {name: [] for name in shapes}

            def drain(deps: Deps) -> None:
                assert deps.invoker.drain(30), "the precheck did not end within 30 s"  # type: ignore[attr-defined]

            for deps in shapes.values():  # warm-up: imports, pyodbc's first-connection queries, the SDK's client
                wiring.use(deps)
                functions.call("start_precheck", register)
                drain(deps)

            def precheck(name: str, record: bool = True) -> None:
                """One precheck of that shape, through the same handlers as FC's."""
                deps = shapes[name]
                wiring.use(deps)
                spans.clear()
                began = time.perf_counter()
                answer = json.loads(functions.call("start_precheck", start))
                assert answer["statusCode"] == 202, answer
                drain(deps)
                view = json.loads(json.loads(functions.call("get_last_result", last))["body"])
                assert view["status"] != "RUNNING" and view["progress"] == 100, view
                if record:
                    for item in view["items"]:
                        durations[name][item["item"]].append(item["duration_ms"])
                    paths[name].append(critical_path(spans, began))

            network = SocketNetworkProbe()
            sql = PyodbcConnector()

            def probe_oss() -> None:
                network.connect(Endpoint(host="127.0.0.1", port=oss.port), 10)

            def probe_control() -> None:
                network.connect(Endpoint(host="127.0.0.1", port=control.port), 10)

            def probe_sql() -> None:
                session = sql.connect(SqlTarget.at("127.0.0.1", emulator.port, encrypt="off"), "backup",
                                      password, 10)
                session.query(DATABASES_SQL)
                session.query(VISIBILITY_SQL)
                session.close()

            from precheck import runner
            from precheck.checks import all_items
            from precheck.models import CheckRequest, Instance
            from precheck.settings import Settings

            real = wiring.make_probes(Settings.from_environ())
            request = CheckRequest(run_id="bench", instance=Instance(**instance), item="", deadline=9e9)
            items = all_items()
            pool = ThreadPoolExecutor(max_workers=len(items))

            def items_alone() -> None:
                outcomes = list(pool.map(lambda item: runner.run_check(item, request, real), items))
                assert all(outcome.status.value not in ("ERROR", "TIMED_OUT") for outcome in outcomes), outcomes

            probe_sql()
            items_alone()
            e2e: dict[str, list[float]] = {name: [] for name in shapes}
            alone: dict[str, list[float]] = {name: [] for name in shapes}
            probes: dict[str, list[float]] = {"oss_connect": [], "control_connect": [], "sql_catalog": []}
            for _ in range(RUNS):  # interleaved, so drift on a shared machine hits every figure alike
                for name in shapes:
                    e2e[name] += timed(lambda: precheck(name), 1)
                    alone[name] += timed(items_alone, 1)
                probes["oss_connect"] += timed(probe_oss, 1)
                probes["control_connect"] += timed(probe_control, 1)
                probes["sql_catalog"] += timed(probe_sql, 1)
            profile = store_profile(shapes["tablestore"], precheck)
        probe_medians = {name: median(values) for name, values in probes.items()}
        slowest = max(probe_medians.values())
        figures = {name: shape_figures(e2e[name], alone[name], slowest, durations[name],
                                       HOP_S if name == "tablestore" else 0.0) for name in shapes}
        for name in shapes:
            figures[name]["critical_path_ms"] = path_figures(paths[name])
        figures["tablestore"]["profile"] = profile
        emit("e2e_latency", {
            "runs": RUNS,
            "items": len(items),
            **figures["sqlite"],  # today's figures, at the top level as before
            "met_sqlite": figures["sqlite"]["met"],
            "slowest_probe": max(probe_medians, key=lambda name: probe_medians[name]),
            "slowest_probe_median_ms": ms(slowest),
            "probe_medians_ms": {name: ms(value) for name, value in probe_medians.items()},
            "ratio_to_one_minute": round(median(e2e["sqlite"]) / 60.0, 5),
            "tablestore": figures["tablestore"],
            "target_overhead_ms": TARGET_MS,
            "met": figures["sqlite"]["met"] and figures["tablestore"]["met"],
        })
    finally:
        wiring.use(None)
        if pool is not None:
            pool.shutdown()
        emulator.stop()
        oss.close()
        control.close()


def shape_figures(e2e: list[float], alone: list[float], slowest: float, durations: dict[str, list[int]],
                  hop_s: float) -> dict[str, Any]:
    """One shape's figures: overhead = e2e median - (the items' own work + the modelled hops)."""
    e2e_median, alone_median = median(e2e), median(alone)
    hops = HOPS_ON_PATH * hop_s
    overhead = e2e_median - (alone_median + hops)
    figures: dict[str, Any] = {
        "median_ms": ms(e2e_median),
        "p90_ms": ms(sorted(e2e)[int(len(e2e) * 0.9) - 1]),
        "items_alone_median_ms": ms(alone_median),
        "overhead_over_slowest_probe_ms": ms(e2e_median - slowest - hops),
        "overhead_ms": ms(overhead),
        "item_duration_ms": {item: median([float(value) for value in values])
                             for item, values in sorted(durations.items())},
        "met": overhead <= TARGET_MS / 1000,
    }
    if hop_s:
        figures = {"hop_ms": ms(hop_s), "hops_on_path": HOPS_ON_PATH, "modelled_hops_ms": ms(hops),
                   "slowest_probe_plus_hops_ms": ms(slowest + hops), **figures}
    return figures


def store_profile(deps: Any, precheck: Any) -> dict[str, Any]:
    """Three more prechecks of the cloud's shape, outside the timed ones, with the store counted and timed:
    the calls one precheck makes, by method, and the time spent in them (summed over threads, so it can
    exceed the run's own)."""
    real = deps._store
    profiled = Profiled(real)
    deps._store = profiled
    runs = 3
    try:
        for _ in range(runs):
            precheck("tablestore", False)
    finally:
        deps._store = real
    return {"store_calls_per_run": sum(profiled.calls.values()) / runs,
            "calls_per_run": {name: count / runs for name, count in sorted(profiled.calls.items())},
            "ms_per_run_by_method": {name: ms(value / runs) for name, value in sorted(profiled.seconds.items())}}


#: a function's invocation: its name, its item (checks, and collect_outcome: the item of the result), start, end
Span = tuple[str, str, float, float]


def recorded_functions(functions: Any, spans: list[Span]) -> Any:
    """`functions`' handlers, each recording its span in `spans` (two clock reads per invocation)."""
    from precheck import local

    def recorded(name: str, handler: Any) -> Any:
        def run(event: bytes, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                spans.append((name, item_of(name, event), started, time.perf_counter()))
        return run

    return local.Functions.of({name: recorded(name, functions.load(name)) for name in functions.names()})


def item_of(function: str, event: bytes) -> str:
    if function.startswith("check_"):
        return str(json.loads(event)["item"])
    if function == "collect_outcome":
        return str(json.loads(json.loads(event)["requestPayload"])["item"])
    return ""


def critical_path(spans: list[Span], began: float) -> dict[str, float]:
    """One precheck's critical path, in seconds: `start` (start_precheck's handler), `hop_to_check` (its end to
    the start of the check whose collector ends last), `check` (that check), `hop_to_collect` (its end to the
    start of its collector), `collect` (that collector), `to_read` (its end to the start of the last read: the
    drain noticing), `read` (get_last_result); `other` is what the run took beyond them (before the start)."""
    start = next(span for span in spans if span[0] == "start_precheck")
    last_collect = max((span for span in spans if span[0] == "collect_outcome"), key=lambda span: span[3])
    check = next(span for span in spans if span[0].startswith("check_") and span[1] == last_collect[1])
    read = [span for span in spans if span[0] == "get_last_result"][-1]
    path = {"start": start[3] - start[2], "hop_to_check": check[2] - start[3], "check": check[3] - check[2],
            "hop_to_collect": last_collect[2] - check[3], "collect": last_collect[3] - last_collect[2],
            "to_read": read[2] - last_collect[3], "read": read[3] - read[2]}
    return {**path, "other": read[3] - began - sum(path.values()), "total": read[3] - began}


def path_figures(paths: list[dict[str, float]]) -> dict[str, Any]:
    """The critical path of the run of median total (its segments add up to it), and each segment's median."""
    median_run = sorted(paths, key=lambda path: path["total"])[len(paths) // 2]
    return {"median_run": {name: ms(value) for name, value in median_run.items()},
            "segment_medians": {name: ms(median([path[name] for path in paths])) for name in median_run}}


if __name__ == "__main__":
    main()
