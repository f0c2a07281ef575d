"""scripts/cost.py: the arithmetic of what a precheck costs, read from each benchmark's output shape; a figure that
is missing becomes a listed assumption, never a crash."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("precheck_cost_script", ROOT / "scripts" / "cost.py")
assert _spec is not None and _spec.loader is not None
cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cost)

#: One item "a", one start, two collects: small enough to compute by hand.
RUN_EVENTS = {"bench": "run_events", "invocations_per_run": {"start_precheck": 1, "check_a": 1, "collect_outcome": 2},
              "store_calls_per_run_with_events": 7}
E2E = {"bench": "e2e_latency", "met": True, "item_duration_ms": {"a": 1000.0}, "items_alone_median_ms": 1200.0}
HUGE = {"bench": "huge_instance", "databases": 32767, "met": True,
        "items": {"a": {"item_ms": 2000.0, "outcome_bytes": 8192, "status": "WARNING"}}}
STORE = {"bench": "store_cost", "met": True,
         "per_precheck": {"10": {"read_cu": 10, "write_cu": 20, "requests": 5},
                          "32767": {"read_cu": 100, "write_cu": 50, "requests": 5}}}
MEMORY = {"start_precheck": 512, "check_a": 256, "collect_outcome": 256}


def write_round(folder: Path, round_no: int, *benches: dict) -> Path:
    (folder / str(round_no)).mkdir(parents=True, exist_ok=True)
    for figures in benches:
        (folder / str(round_no) / f"{figures['bench']}.json").write_text(json.dumps(figures), encoding="utf-8")
    return folder


def test_one_invocation_in_cus() -> None:
    """256 MB for 1 s: 75/10,000 + 0.25 GB x 1 s x 0.15 + 0.25 vCPU (assumed 1 per GB) x 1 s x 1 = 0.295 CU."""
    assert cost.invocation_cu(256, 1000.0) == pytest.approx(0.295)


def test_fc_usd_crosses_the_monthly_tiers() -> None:
    """150 M CU: 100 M x 0.000020 + 50 M x 0.000017 = 2,000 + 850 = 2,850 USD;
    600 M CU: 2,000 + 400 M x 0.000017 + 100 M x 0.000014 = 2,000 + 6,800 + 1,400 = 10,200 USD."""
    assert cost.fc_usd(150e6) == pytest.approx(2850.0)
    assert cost.fc_usd(600e6) == pytest.approx(10200.0)
    assert cost.fc_usd(1000) == pytest.approx(0.02)


def test_a_known_round_gives_the_figures_computed_by_hand(tmp_path: Path) -> None:
    """At 10 databases: start 512 MB x 0.3 s = 0.0075 + 0.0225 + 0.15 = 0.18 CU; item a 256 MB x 1 s = 0.295 CU;
    two collects 256 MB x 0.05 s = 2 x (0.0075 + 0.001875 + 0.0125) = 0.04375 CU; together 0.51875 CU
    = 0.000010375 USD. Tablestore (10 read + 20 write CU) x 0.003 / 10,000 = 0.000009 USD.
    100,000 instances at 32,767: 3,000,000 runs x (100 + 50) CU x 0.003 / 10,000 = 135 USD of CUs; 90 kept runs
    of 8,192 bytes each = 73.728 GB, x 0.50 USD = 36.86 USD a month."""
    result = cost.report(memory=MEMORY, bench_out=write_round(tmp_path, 1, RUN_EVENTS, E2E, HUGE, STORE))
    one = result["per_precheck"]["10"]
    assert one["fc_cu"] == pytest.approx(0.51875)
    assert one["fc_usd"] == pytest.approx(0.000010375)
    assert one["tablestore_usd"] == pytest.approx(0.000009)
    assert one["total_usd"] == pytest.approx(0.000019375)
    month = result["monthly_nightly"]["100000"]["32767"]
    assert month["runs"] == 3_000_000
    assert month["tablestore_cu_usd"] == pytest.approx(135.0)
    assert month["stored_gb_at_ttl"] == pytest.approx(73.728)
    assert month["tablestore_storage_usd"] == pytest.approx(36.86, abs=0.01)
    assert result["inputs"]["duration_ms"]["32767"]["check_a"] == 2000.0
    assert not any("store_cost missing" in text for text in result["assumptions"])


def test_the_newest_round_is_read(tmp_path: Path) -> None:
    """Round 10 sorts after round 9 (numerically), and its figures are the ones used."""
    write_round(tmp_path, 9, RUN_EVENTS, {**STORE, "per_precheck": {"10": {"read_cu": 999, "write_cu": 999}}})
    write_round(tmp_path, 10, RUN_EVENTS, STORE)
    result = cost.report(tmp_path, MEMORY)
    assert result["bench_round"].endswith("10")
    assert result["per_precheck"]["10"]["read_cu"] == 10


def test_missing_figures_become_labelled_assumptions_not_a_crash(tmp_path: Path) -> None:
    """No store_cost, no per-item durations, no huge_instance: each replaced and said so; figures still computed."""
    no_items = {**E2E, "item_duration_ms": None}
    result = cost.report(memory=MEMORY, bench_out=write_round(tmp_path, 1, RUN_EVENTS, no_items))
    text = "\n".join(result["assumptions"])
    assert "store_cost missing" in text
    assert "e2e_latency's items run together (1200 ms" in text
    assert "run row at 32,767 databases: assumed 166,000 bytes" in text
    assert result["inputs"]["duration_ms"]["10"]["check_a"] == 1200.0
    assert result["per_precheck"]["32767"]["total_usd"] > 0


def test_no_bench_output_at_all_still_gives_every_figure(tmp_path: Path) -> None:
    """An empty folder: the invocations come from the layout, everything measured is an assumption."""
    result = cost.report(tmp_path / "nothing")
    assert result["bench_round"] is None
    assert any("no benchmark output" in text for text in result["assumptions"])
    assert set(result["monthly_nightly"]) == {"100", "10000", "100000"}
    assert set(result["monthly_nightly"]["100"]) == {"10", "32767"}


def test_a_crashed_benchmark_output_is_not_read_as_figures(tmp_path: Path) -> None:
    """scripts/bench saves a crash as {"met": false, "error": ...}: that is a missing figure, not a zero."""
    crashed = {"bench": "store_cost", "met": False, "error": "exit status 1"}
    result = cost.report(memory=MEMORY, bench_out=write_round(tmp_path, 1, RUN_EVENTS, crashed))
    assert any("store_cost missing" in text for text in result["assumptions"])


def test_memory_sizes_are_the_deployed_ones(devs: dict) -> None:
    """Read from the spec the descriptors are generated from: the same memorySize s.yaml deploys."""
    deployed = {service["props"]["function"]["name"]: service["props"]["function"]["memorySize"]
                for service in devs["services"].values() if service.get("component") == "fc"}
    assert cost.memory_sizes() == deployed


def test_every_price_names_its_page_and_date() -> None:
    """Each price: a URL and the day it was read; the ones no page confirmed are flagged as assumptions."""
    for entry in cost.PRICES.values():
        assert entry["source"].startswith("https://") and entry["read"]
    assert cost.PRICES["ots_usd_per_gb_month"].get("assumption") is True


def test_markdown_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--markdown: one precheck per database count, then a month per fleet x databases, prices, assumptions."""
    real = {**RUN_EVENTS, "invocations_per_run": {"start_precheck": 1, "check_log_space": 1, "collect_outcome": 2}}
    assert cost.main(["--bench-out", str(write_round(tmp_path, 1, real, E2E, HUGE, STORE)), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| 100,000 | 32,767 |" in out and "| 10 databases |" in out and "Assumptions:" in out
