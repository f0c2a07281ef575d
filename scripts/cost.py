#!/usr/bin/env python3
"""What a precheck costs on Alibaba Cloud: one precheck, and a month of nightly rechecks (30 runs) for 100, 10,000
and 100,000 instances at 10 and 32,767 databases, Function Compute and Tablestore apart and together, plus the
run history kept by its 90-day TTL. See docs/cost.md.

    python scripts/cost.py                  JSON, from the newest round in .bench/ (./scripts/bench writes it)
    python scripts/cost.py --markdown       the same as a Markdown table (the README's)
    python scripts/cost.py --bench-out DIR  read DIR/<newest round>/*.json instead

Inputs: the benchmarks' measured figures (run_events: invocations per precheck; e2e_latency: each item's duration
at 10 databases; huge_instance: each SQL item's duration and outcome size at 32,767; store_cost: Tablestore CUs per
precheck), the memory sizes from the deploy spec that generates template.yml (deploy/descriptors/spec.py), and the
public prices in PRICES. A figure that is missing is replaced by an assumption, listed under "assumptions".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

FC_PAGE = "https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/product-overview/pay-as-you-go-billing-method"
OTS_EXAMPLES = "https://www.alibabacloud.com/help/en/tablestore/latest/billing-examples"
OTS_EXAMPLES_ZH = "https://help.aliyun.com/zh/tablestore/product-overview/billing-examples"
OTS_ITEMS_ZH = "https://help.aliyun.com/zh/tablestore/billable-items-and-billing-methods"
FC_SPECS = "https://www.alibabacloud.com/help/en/function-compute/latest/instance-types-and-instance-modes"
READ = "2026-11-30"

#: Every price the figures use, in USD, with the page it was read from and when. "assumption": no page reachable
#: from here states it; the value is ours and must be checked before the figures are quoted.
PRICES: dict[str, dict[str, Any]] = {
    "fc_usd_per_cu": {"value": 0.000020, "unit": "USD/CU, first 100 M CU a month (tier 1)", "source": FC_PAGE,
                      "read": READ, "note": "FC 2.0 and 3.0 bill in CUs since 2024-08-27 (no separate GB-s price)"},
    "fc_usd_per_cu_tier2": {"value": 0.000017, "unit": "USD/CU, 100 M - 500 M CU a month", "source": FC_PAGE,
                            "read": READ},
    "fc_usd_per_cu_tier3": {"value": 0.000014, "unit": "USD/CU, above 500 M CU a month", "source": FC_PAGE,
                            "read": READ},
    "fc_cu_per_invocation": {"value": 75 / 10_000, "unit": "CU per invocation (75 CU per 10,000)",
                             "source": FC_PAGE, "read": READ},
    "fc_cu_per_gb_s": {"value": 0.15, "unit": "CU per GB-second of memory", "source": FC_PAGE, "read": READ},
    "fc_cu_per_vcpu_s": {"value": 1.0, "unit": "CU per active vCPU-second", "source": FC_PAGE, "read": READ},
    "fc_vcpu_per_gb": {"value": 1.0, "unit": "vCPU per GB of memory", "source": FC_SPECS, "read": READ,
                       "assumption": True,
                       "note": "our functions set memory only; FC allows vCPU:memory(GB) from 1:1 to 1:4, so 1:1 "
                               "is the most it can bill (an upper bound)"},
    "ots_usd_per_10k_read_cu": {"value": 0.0030, "unit": "USD per 10,000 metered read CU", "source": OTS_EXAMPLES,
                                "read": READ,
                                "note": "high-performance instance; ours is a capacity instance (ClusterType "
                                        "HYBRID), whose read price the Chinese page gives as 0.4x the "
                                        f"high-performance one (CNY 0.004 vs 0.01, {OTS_EXAMPLES_ZH}): an upper bound"},
    "ots_usd_per_10k_write_cu": {"value": 0.0030, "unit": "USD per 10,000 metered write CU", "source": OTS_EXAMPLES,
                                 "read": READ, "assumption": True,
                                 "note": "no reachable page states the write price: taken equal to the read price"},
    "ots_usd_per_gb_month": {"value": 0.50, "unit": "USD per GB-month of stored data", "source": OTS_ITEMS_ZH,
                             "read": READ, "assumption": True,
                             "note": "the page says storage is billed per GB-hour on the hourly average but no "
                                     "reachable page states the price: a deliberately high placeholder"},
    "ots_usd_per_gb_vpc_traffic": {"value": 0.0, "unit": "USD per GB over the VPC endpoint", "source": OTS_ITEMS_ZH,
                                   "read": READ,
                                   "note": "only Internet outbound traffic is billed; the functions use the VPC "
                                           "endpoint and have no Internet access"},
}
FC_TIERS = [(100e6, "fc_usd_per_cu"), (500e6, "fc_usd_per_cu_tier2"), (math.inf, "fc_usd_per_cu_tier3")]
FREE_TIERS = ("left out of every figure: FC's and Tablestore's free quotas and trial offers, and the FC discount "
              "that ran 2024-08-27 to 2025-08-27")

DATABASES = (10, 32767)
FLEETS = (100, 10_000, 100_000)
NIGHTS = 30
#: Assumptions used when a benchmark's figure is missing (each use is listed in the output).
ASSUMED: dict[str, Any] = {
    "item_ms": 1000.0,  # a check item's duration when no benchmark measured it
    "start_ms": 300.0,  # start_precheck: no benchmark times it alone
    "collect_ms": {10: 50.0, 32767: 150.0},  # collect_outcome: read-check-write of the run row
    "run_row_bytes": {10: 4096, 32767: 166_000},  # issue 16: "about 166 KB at 32,767 databases"
    "item_outcome_bytes": 1024,  # an item huge_instance does not run (the network items)
}


def price(key: str) -> float:
    return float(PRICES[key]["value"])


def fc_usd(cu: float) -> float:
    """USD for `cu` CUs used in one month, over FC's tiers (tier 1 up to 100 M CU, tier 2 to 500 M, then tier 3)."""
    usd, floor = 0.0, 0.0
    for ceiling, key in FC_TIERS:
        if cu > floor:
            usd += (min(cu, ceiling) - floor) * price(key)
        floor = ceiling
    return usd


def invocation_cu(memory_mb: int, duration_ms: float) -> float:
    """CUs of one invocation: the invocation itself, memory GB-seconds and (assumed) vCPU-seconds."""
    gb, seconds = memory_mb / 1024, duration_ms / 1000
    return (price("fc_cu_per_invocation") + seconds * gb * price("fc_cu_per_gb_s")
            + seconds * gb * price("fc_vcpu_per_gb") * price("fc_cu_per_vcpu_s"))


def read_round(bench_out: Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The newest round's figures by benchmark name ({} when there is none), and the folder they came from."""
    rounds = sorted((p for p in bench_out.glob("*") if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not rounds:
        return None, {}
    figures = {}
    for path in sorted(rounds[-1].glob("*.json")):
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict) and "error" not in loaded:
            figures[path.stem] = loaded
    return str(rounds[-1]), figures


def memory_sizes() -> dict[str, int]:
    """Each function's memory (MB), from the spec that template.yml and s.yaml are generated from."""
    from deploy.descriptors.spec import model

    return {function["name"]: int(function["memory"]) for function in model()["functions"]}


class Inputs:
    """The figures the cost is computed from, each from a benchmark or, failing that, a listed assumption."""

    def __init__(self, figures: dict[str, dict[str, Any]], memory: dict[str, int]) -> None:
        self.figures, self.memory = figures, memory
        self.assumptions: list[str] = []
        self.invocations = self._invocations()
        for name in self.invocations:
            if name not in memory:  # a function the benchmark counted that the deploy spec does not have
                self.memory = {**self.memory, name: max(memory.values(), default=512)}
                self.assume(f"{name}: not in the deploy spec; billed at the largest memory size "
                            f"({self.memory[name]} MB)")
        self.durations = {databases: self._durations(databases) for databases in DATABASES}
        self.row_bytes = {databases: self._row_bytes(databases) for databases in DATABASES}
        self.store_cu = {databases: self._store_cu(databases) for databases in DATABASES}

    def assume(self, text: str) -> None:
        if text not in self.assumptions:
            self.assumptions.append(text)

    def _invocations(self) -> dict[str, int]:
        counted = self.figures.get("run_events", {}).get("invocations_per_run")
        if isinstance(counted, dict) and counted:
            return {str(name): int(count) for name, count in counted.items()}
        from precheck import layout

        checks = layout.check_functions()
        self.assume(f"invocations per precheck: run_events missing; taken as 1 start_precheck + {len(checks)} "
                    f"items + {len(checks) + 1} collect_outcome (one per item and the finalizer)")
        return {layout.START: 1, **{name: 1 for name in checks}, layout.COLLECT: len(checks) + 1}

    def _durations(self, databases: int) -> dict[str, float]:
        """Milliseconds of one invocation of each function at `databases` databases."""
        e2e = self.figures.get("e2e_latency", {}).get("item_duration_ms")
        alone = self.figures.get("e2e_latency", {}).get("items_alone_median_ms")
        huge = self.figures.get("huge_instance", {})
        huge_items = huge.get("items") if huge.get("databases") == databases else None
        durations: dict[str, float] = {}
        for name in self.invocations:
            if not name.startswith("check_"):
                continue
            item = name.removeprefix("check_")
            if databases == 32767 and isinstance(huge_items, dict) and item in huge_items:
                durations[name] = float(huge_items[item]["item_ms"])
            elif isinstance(e2e, dict) and item in e2e:
                durations[name] = float(e2e[item])
                if databases == 32767:
                    self.assume(f"{item} at 32,767 databases: huge_instance does not run it; its 10-database "
                                "duration is used (a network probe does not depend on the database count)")
            elif isinstance(alone, (int, float)):
                durations[name] = float(alone)
                self.assume(f"{item} at {databases:,} databases: no per-item duration; e2e_latency's items run "
                            f"together ({alone:g} ms, the slowest item's time) is used for it")
            else:
                durations[name] = ASSUMED["item_ms"]
                self.assume(f"{item} at {databases:,} databases: no measured duration; assumed "
                            f"{ASSUMED['item_ms']:g} ms")
        durations["start_precheck"] = ASSUMED["start_ms"]
        durations["collect_outcome"] = ASSUMED["collect_ms"][databases]
        self.assume(f"start_precheck takes {ASSUMED['start_ms']:g} ms and collect_outcome "
                    f"{ASSUMED['collect_ms'][10]:g} ms at 10 databases, {ASSUMED['collect_ms'][32767]:g} ms at "
                    "32,767 (no benchmark times them alone)")
        return durations

    def _row_bytes(self, databases: int) -> int:
        """Bytes one run keeps in the store: its row with every item's outcome."""
        huge = self.figures.get("huge_instance", {})
        if databases == 32767 and huge.get("databases") == databases and isinstance(huge.get("items"), dict):
            measured = sum(int(item.get("outcome_bytes", 0)) for item in huge["items"].values())
            others = sum(1 for name in self.invocations if name.startswith("check_")
                         and name.removeprefix("check_") not in huge["items"])
            self.assume(f"run row at 32,767 databases: the measured outcomes ({measured:,} bytes) plus "
                        f"{ASSUMED['item_outcome_bytes']:,} bytes for each of the {others} items huge_instance "
                        "does not run")
            return measured + others * int(ASSUMED["item_outcome_bytes"])
        size = int(ASSUMED["run_row_bytes"][databases])
        self.assume(f"run row at {databases:,} databases: assumed {size:,} bytes (not measured)")
        return size

    def _store_cu(self, databases: int) -> dict[str, float]:
        per = self.figures.get("store_cost", {}).get("per_precheck", {}).get(str(databases))
        if isinstance(per, dict) and "read_cu" in per and "write_cu" in per:
            return {"read_cu": float(per["read_cu"]), "write_cu": float(per["write_cu"])}
        calls = self.figures.get("run_events", {}).get("store_calls_per_run_with_events", 44)
        collects = self.invocations.get("collect_outcome", 1)
        row_cu = math.ceil(self.row_bytes[databases] / 4096)
        self.assume(f"Tablestore CUs at {databases:,} databases: store_cost missing; assumed 1 read and 1 write CU "
                    f"per store call ({calls}), plus a read of the whole run row ({row_cu} CU) by each of the "
                    f"{collects} collect_outcome calls and one write of it")
        return {"read_cu": float(calls + collects * row_cu), "write_cu": float(calls + row_cu)}


def compute(inputs: Inputs) -> dict[str, Any]:
    per_precheck: dict[str, Any] = {}
    monthly: dict[str, dict[str, Any]] = {}
    for databases in DATABASES:
        cu = sum(count * invocation_cu(inputs.memory[name], inputs.durations[databases][name])
                 for name, count in inputs.invocations.items())
        store = inputs.store_cu[databases]
        ots = (store["read_cu"] * price("ots_usd_per_10k_read_cu")
               + store["write_cu"] * price("ots_usd_per_10k_write_cu")) / 10_000
        per_precheck[str(databases)] = {"fc_cu": round(cu, 6), "fc_usd": round(fc_usd(cu), 9),
                                        "tablestore_usd": round(ots, 9), "total_usd": round(fc_usd(cu) + ots, 9),
                                        **store}
        for fleet in FLEETS:
            runs = fleet * NIGHTS
            kept_gb = fleet * min(NIGHTS * 3, 90) * inputs.row_bytes[databases] / 1e9  # 90-day TTL, nightly runs
            storage = kept_gb * price("ots_usd_per_gb_month")
            fc = fc_usd(cu * runs)
            month = {"runs": runs, "fc_usd": round(fc, 2), "tablestore_cu_usd": round(ots * runs, 2),
                     "stored_gb_at_ttl": round(kept_gb, 3), "tablestore_storage_usd": round(storage, 2),
                     "total_usd": round(fc + ots * runs + storage, 2)}
            monthly.setdefault(str(fleet), {})[str(databases)] = month
    return {"per_precheck": per_precheck, "monthly_nightly": monthly}


def report(bench_out: Path, memory: dict[str, int] | None = None) -> dict[str, Any]:
    """The cost figures from `bench_out`'s newest round; `memory` (MB by function) defaults to the deploy spec's."""
    source, figures = read_round(bench_out)
    inputs = Inputs(figures, memory if memory is not None else memory_sizes())
    if source is None:
        inputs.assume(f"no benchmark output under {bench_out}: every measured figure is an assumption")
    return {"currency": "USD", "bench_round": source, "prices": PRICES, "free_tiers": FREE_TIERS,
            "inputs": {"invocations_per_precheck": inputs.invocations,
                       "memory_mb": {name: inputs.memory[name] for name in inputs.invocations},
                       "duration_ms": {str(d): inputs.durations[d] for d in DATABASES},
                       "run_row_bytes": {str(d): inputs.row_bytes[d] for d in DATABASES},
                       "history_ttl_days": 90, "nights_per_month": NIGHTS},
            "assumptions": inputs.assumptions, **compute(inputs)}


def markdown(result: dict[str, Any]) -> str:
    lines = ["| One precheck | FC | Tablestore (CU) | Total |", "|---:|---:|---:|---:|"]
    for databases in DATABASES:
        one = result["per_precheck"][str(databases)]
        lines.append(f"| {databases:,} databases | ${one['fc_usd']:.6f} | ${one['tablestore_usd']:.6f} | "
                     f"${one['total_usd']:.6f} |")
    lines += ["", "| Instances | Databases | FC / month | Tablestore CU / month | Stored at 90-day TTL "
              "| Storage / month | Total / month |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for fleet in FLEETS:
        for databases in DATABASES:
            m = result["monthly_nightly"][str(fleet)][str(databases)]
            lines.append(f"| {fleet:,} | {databases:,} | ${m['fc_usd']:,.2f} | ${m['tablestore_cu_usd']:,.2f} | "
                         f"{m['stored_gb_at_ttl']:,.2f} GB | ${m['tablestore_storage_usd']:,.2f} | "
                         f"${m['total_usd']:,.2f} |")
    lines += ["", f"USD; nightly rechecks, {NIGHTS} a month; run history kept 90 days (its TTL). Free tiers are "
              f"{FREE_TIERS}.",
              "Prices (read " + READ + "; * = assumption, not read from a page):"]
    for key, entry in PRICES.items():
        star = "*" if entry.get("assumption") else ""
        lines.append(f"- {key}{star}: {entry['value']:g} {entry['unit']} ({entry['source']})")
    lines += ["", "Assumptions:"] + [f"- {text}" for text in result["assumptions"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cost.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-out", type=Path, default=ROOT / ".bench", help="./scripts/bench's output folder")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table instead of JSON")
    args = parser.parse_args(argv)
    result = report(args.bench_out)
    try:
        print(markdown(result) if args.markdown else json.dumps(result, indent=1, ensure_ascii=False))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the interpreter flushes it at exit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
