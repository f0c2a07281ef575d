"""What a precheck costs the Tablestore store (issue 16, target 4), counted from the requests the store sends.

A recheck of every item (11; the instance's second precheck, so its event compares with a run before it; the
first one's totals are printed too) through the real handlers (in-process invoker, stand-in check functions whose
outcomes have the sizes of an instance with 10 and with 32,767 databases: every SQL item lists every database
as affected, cut to the 100 KB outcome budget by the runner's own `fit`, the worst case; the two network items
answer a short PASSED), then the finalizer at the run's deadline and one `get_last_result`, on the Tablestore
store over its emulator (the real SDK, the wire). A `MeteredClient` counts each request's capacity units as the
response reports them (the emulator computes them by the documented rule: docs/store-cost.md) and as computed
from the sizes sent and received; both are printed.

Per function: `start_precheck`, each `collect_outcome` (the outcome's own reads and writes), `event` (taking the
run's "ended" mark, reading the run and the one before it, publishing), `finalizer` (the deadline's
`collect_outcome`, outside `event`), `get_last_result`.

Target: every collect reads no more capacity units than it writes, and the latest result is one GetRange
(`met`). Run with PYTHONPATH pointing at an older tree to measure that tree (the meter is loaded from this one).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
sys.path.append(str(ROOT / "shared"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import drain_through_deadline, emit  # noqa: E402

SIZES = (10, 32767)


def _metering() -> Any:
    """This tree's meter, whichever `precheck` the path imports (a tree from before it had none)."""
    spec = importlib.util.spec_from_file_location(
        "_store_metering", ROOT / "shared" / "precheck" / "adapters" / "tablestore" / "metering.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _in_end() -> bool:
    """Whether the request is made by `completion.end` (the run's event), whoever runs it."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name in ("end", "end_run") and frame.f_code.co_filename.endswith("completion.py"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def outcome_for(item: str, databases: int) -> Any:
    from precheck.models import AffectedDatabase, ItemStatus, Outcome
    from precheck.runner import fit

    if item in ("oss_connectivity", "control_network"):
        return Outcome(item=item, status=ItemStatus.PASSED, message="connected in 3 ms", finished_at=1.0,
                       details={"connect_ms": 3.0, "probed_from": "function"})
    affected = [AffectedDatabase(name=f"sales_archive_{n:05d}", state="ONLINE", recovery_model="SIMPLE")
                for n in range(databases)]
    return fit(Outcome(item=item, status=ItemStatus.WARNING, message=f"{databases} databases affected",
                       affected=affected, advice="ALTER DATABASE ... SET RECOVERY FULL", finished_at=1.0))


def one_precheck(databases: int) -> dict[str, Any]:
    from precheck import local
    from precheck.adapters.credentials import Credentials
    from precheck.adapters.inprocess_invoker import InProcessInvoker
    from precheck.adapters.tablestore import Connection, TableNames, TablestoreResultStore, create_tables
    from precheck.checks import all_items
    from precheck.deps import Deps
    from precheck.layout import destination_of
    from precheck.models import CheckRequest
    from precheck.testing import Client
    from tablestore_emulator import TablestoreEmulator
    from tests.event_fakes import ListSink, ManualLater
    from tests.fakes import Clock, instance

    metering = _metering()
    outcomes = {item.name: outcome_for(item.name, databases).model_dump_json() for item in all_items()}
    meter = metering.Meter()
    invocations: dict[str, int] = defaultdict(int)

    def check(event: bytes, context: Any) -> str:
        return outcomes[CheckRequest.model_validate_json(event).item]

    def counted(name: str, handler: Any) -> Any:
        def run(event: Any, context: Any) -> Any:
            raw = event if isinstance(event, (bytes, bytearray)) else str(event).encode()
            phase = "finalizer" if name == "collect_outcome" and b"precheck_finalize" in raw[:64] else name
            invocations[phase] += 1
            meter.phase = f"{phase}#{invocations[phase]}"
            try:
                return handler(event, context)
            finally:
                meter.phase = ""
        return run

    def phase_of() -> str:
        return "event" if _in_end() else meter.phase

    with TablestoreEmulator(access_key_id="bench", access_key_secret="bench-secret", instance="bench") as emu:
        client = Connection(emu.endpoint, "bench", 10.0).client(Credentials("bench", "bench-secret"))
        tables = TableNames()
        create_tables(client, tables)
        store = TablestoreResultStore(metering.MeteredClient(client, meter, phase_of), tables)
        real = {name: local.DEFAULT.load(name) for name in ("start_precheck", "collect_outcome", "get_last_result")}
        handlers = {**{f"check_{item.name}": check for item in all_items()}, **real}
        functions = local.Functions.of({name: counted(name, handler) for name, handler in handlers.items()})
        clock = Clock()
        later = ManualLater(clock)
        invoker = InProcessInvoker(functions, destination_of, max_workers=4, later=later)
        deps = Deps(store=store, invoker=invoker, clock=clock, grace_s=30.0, sink=ListSink(), scheduler=invoker)
        the_instance = instance()
        figures = []
        with Client(deps, functions) as client_:
            meter.phase = "register"
            store.save_instance(the_instance)
            meter.phase = ""
            for _ in range(2):  # the instance's first precheck, then a recheck (a previous run to compare with)
                meter.requests.clear()
                invocations.clear()
                response = client_.invoke("start_precheck", client_.events.api(
                    "POST", f"/instances/{the_instance.instance_id}/prechecks",
                    path_parameters={"instance_id": the_instance.instance_id}))
                assert response is not None
                drain_through_deadline(client_, later, clock, 60)
                client_.http.get(f"/instances/{the_instance.instance_id}/prechecks/latest")
                figures.append(summarize(list(meter.requests)))
                clock.now += 60
    return {**figures[1], "first_precheck": figures[0]["per_precheck"]}


def summarize(requests: list[Any]) -> dict[str, Any]:
    phases: dict[str, dict[str, Any]] = {}
    for request in requests:
        if request.phase in ("register", ""):
            continue
        phase = phases.setdefault(request.phase, {"read_cu": 0, "write_cu": 0, "computed_read_cu": 0,
                                                  "computed_write_cu": 0, "requests": 0, "bytes": 0,
                                                  "operations": defaultdict(int)})
        phase["read_cu"] += request.read_cu
        phase["write_cu"] += request.write_cu
        phase["computed_read_cu"] += request.computed_read_cu
        phase["computed_write_cu"] += request.computed_write_cu
        phase["requests"] += 1
        phase["bytes"] += request.bytes_sent + request.bytes_received
        phase["operations"][request.operation + (" (condition failed)" if request.failed else "")] += 1
    for phase in phases.values():
        phase["operations"] = dict(phase["operations"])
    collects = [phase for name, phase in phases.items() if name.startswith("collect_outcome#")]
    total = {key: sum(phase[key] for phase in phases.values())
             for key in ("read_cu", "write_cu", "computed_read_cu", "computed_write_cu", "requests", "bytes")}
    last = phases.get("get_last_result#1", {"requests": 0, "operations": {}})
    return {"per_precheck": total, "by_function": dict(sorted(phases.items())),
            "collect": {"worst_read_over_write": max(c["computed_read_cu"] / c["computed_write_cu"] for c in collects),
                        "read_cu_max": max(max(c["read_cu"], c["computed_read_cu"]) for c in collects),
                        "write_cu_min": min(min(c["write_cu"], c["computed_write_cu"]) for c in collects),
                        # each accounting on its own: the reported one (a failed condition's answer is an
                        # error, which carries no CU) and the computed one (1 read + 1 write CU for it)
                        "every_collect_reads_no_more_than_it_writes": all(
                            c["read_cu"] <= c["write_cu"] and c["computed_read_cu"] <= c["computed_write_cu"]
                            for c in collects),
                        "collects": len(collects)},
            "last_result_requests": last["requests"],
            "last_result_is_one_get_range": last["operations"] == {"GetRange": 1}}


def main() -> None:
    with tempfile.TemporaryDirectory():
        results = {str(size): one_precheck(size) for size in SIZES}
    met = all(result["collect"]["every_collect_reads_no_more_than_it_writes"]
              and result["last_result_is_one_get_range"] for result in results.values())
    emit("store_cost", {
        "target": "every collect_outcome reads no more CU than it writes; the latest result is one GetRange",
        "outcomes": "stand-in checks: every SQL item lists every database, cut to the outcome budget (runner.fit)",
        "per_precheck": {size: {key: result["per_precheck"][key] for key in ("read_cu", "write_cu", "requests")}
                         for size, result in results.items()},
        "per_precheck_computed": {size: result["per_precheck"] for size, result in results.items()},
        "first_precheck_computed": {size: result["first_precheck"] for size, result in results.items()},
        "collect": {size: result["collect"] for size, result in results.items()},
        "by_function": {size: result["by_function"] for size, result in results.items()},
        "last_result_requests": max(result["last_result_requests"] for result in results.values()),
        "met": met})


if __name__ == "__main__":
    main()
