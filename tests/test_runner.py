"""The runner: one outcome per item, whatever happens, within the time limit and the size limit."""

from __future__ import annotations

import json
import threading
import time

from precheck.checks import CheckItem, Verdict, recovery_mode
from precheck.models import AffectedDatabase, CheckRequest, ItemStatus, Outcome
from precheck.runner import OUTCOME_BUDGET_BYTES, fit, run_check
from tests.fakes import FakeSession, FakeSql, instance, probes


def request(item: str = "recovery_mode", **overrides) -> CheckRequest:
    return CheckRequest(run_id="r1", instance=instance(**overrides), item=item, deadline=time.time() + 60)


def test_outcome_carries_item_code_timing_and_sorted_affected():
    """The runner adds the item, its code and the duration, and sorts affected databases by name."""
    sql = FakeSql(FakeSession([("zeta", "ONLINE", "SIMPLE"), ("alpha", "ONLINE", "SIMPLE")]))
    outcome = run_check(recovery_mode.ITEM, request(), probes(sql=sql))
    assert outcome.item == "recovery_mode"
    assert outcome.code == "SQL_SERVER_DB_IN_SIMPLE_RECOVERY_MODE"
    assert outcome.status is ItemStatus.WARNING
    assert [db.name for db in outcome.affected] == ["alpha", "zeta"]
    assert outcome.duration_ms >= 0


def test_a_check_that_hangs_is_timed_out_at_the_limit():
    """A check that never returns is reported TIMED_OUT with the reason, once its time limit has passed and
    without waiting for the check (which would take 30 s: the guard, ten times the limit, catches only that)."""
    release = threading.Event()
    hang = CheckItem("hang", "HANG", "hangs", 99, lambda ctx: release.wait(30))
    started = time.monotonic()
    outcome = run_check(hang, request("hang", item_timeout_s=0.3), probes())
    elapsed = time.monotonic() - started
    release.set()
    assert outcome.status is ItemStatus.TIMED_OUT
    assert outcome.details == {"reason": "time_limit"}
    assert "did not finish within its time limit of 0.3 s" in outcome.message
    assert outcome.duration_ms >= 300  # it waited the whole limit
    assert elapsed < 0.3 * 10


def test_a_crashing_check_becomes_an_error_outcome():
    """An exception inside a check becomes an ERROR outcome naming its type, not a lost result."""

    def crash(ctx):
        raise KeyError("boom")

    outcome = run_check(CheckItem("crash", "CRASH", "crashes", 99, crash), request("crash"), probes())
    assert outcome.status is ItemStatus.ERROR
    assert "KeyError" in outcome.message


def test_skip_items_skips_without_running_the_check():
    """An item listed in the instance's skip_items is SKIPPED and its check never runs."""
    ran = []
    item = CheckItem("spy", "SPY", "spy", 99, lambda ctx: ran.append(1) or Verdict(ItemStatus.PASSED, "ok"))
    outcome = run_check(item, request("spy", skip_items=["spy"]), probes())
    assert outcome.status is ItemStatus.SKIPPED
    assert ran == []


def test_fit_keeps_a_huge_outcome_inside_the_destination_budget_and_counts_what_it_left_out():
    """32,767 affected 128-character names are cut to fit 128 KB events, and the count left out is exact."""
    names = [f"{i:05d}" + "x" * 123 for i in range(32767)]
    outcome = Outcome(item="recovery_mode", status=ItemStatus.WARNING, message="32767 user database(s) in SIMPLE",
                      affected=[AffectedDatabase(name=n, state="ONLINE", recovery_model="SIMPLE") for n in names])
    fitted = fit(outcome)
    encoded = json.dumps(fitted.model_dump_json())
    assert len(encoded) <= OUTCOME_BUDGET_BYTES
    assert 0 < len(fitted.affected) < 32767
    assert len(fitted.affected) + fitted.affected_omitted == 32767
    assert fitted.message.endswith(f"({fitted.affected_omitted} more not listed)")
    assert [db.name for db in fitted.affected] == names[:len(fitted.affected)]


def test_fit_leaves_a_small_outcome_alone():
    """An outcome that fits is returned unchanged."""
    outcome = Outcome(item="x", status=ItemStatus.PASSED, message="ok",
                      affected=[AffectedDatabase(name="销售数据", recovery_model="SIMPLE")])
    assert fit(outcome) == outcome


def test_fit_counts_unicode_names_by_their_escaped_size():
    """Non-ASCII names, which escape to six bytes per character, still fit the budget."""
    names = [f"销售数据{i:05d}" * 10 for i in range(5000)]
    outcome = Outcome(item="x", status=ItemStatus.WARNING, message="m",
                      affected=[AffectedDatabase(name=n) for n in names])
    fitted = fit(outcome)
    assert len(json.dumps(fitted.model_dump_json())) <= OUTCOME_BUDGET_BYTES
    assert len(fitted.affected) + fitted.affected_omitted == 5000
