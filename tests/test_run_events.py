"""One event per finished run (issue 17): through the real start_precheck and collect_outcome handlers, the
in-process invoker (its delayed invocations played on a fake clock) and the SQLite store, with stand-in checks
whose verdicts a test sets."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from precheck import completion, local, runevents
from precheck.adapters.inprocess_invoker import InProcessInvoker
from precheck.adapters.sqlite_store import SqliteResultStore
from precheck.checks import all_items
from precheck.deps import Deps
from precheck.layout import destination_of
from precheck.models import AffectedDatabase, CheckRequest, ItemStatus, Outcome, Run
from precheck.ports import EndMark, Recorded, RunRecord
from precheck.testing import Client
from tests.event_fakes import ListSink, ManualLater
from tests.fakes import Clock, instance

ITEMS = [item.name for item in all_items()]


class Checks:
    """Stand-in check functions: each answers the verdict the test set for its item (PASSED by default)."""

    def __init__(self) -> None:
        self.verdicts: dict[str, tuple[ItemStatus, list[str]]] = {}

    def handler(self, event: bytes, context: Any) -> str:
        request = CheckRequest.model_validate_json(event)
        status, offline = self.verdicts.get(request.item, (ItemStatus.PASSED, []))
        return Outcome(item=request.item, status=status, message=status.value, finished_at=1_800_000_001.0,
                       affected=[AffectedDatabase(name=name, state="OFFLINE") for name in offline]).model_dump_json()


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    later = ManualLater(clock)
    checks = Checks()
    real = {name: local.DEFAULT.load(name) for name in ("start_precheck", "collect_outcome", "get_last_result")}
    functions = local.Functions.of({**{f"check_{item}": checks.handler for item in ITEMS}, **real})
    store = SqliteResultStore(tmp_path / "events.db")
    sink = ListSink()

    def build(destinations=destination_of) -> tuple[Client, InProcessInvoker]:
        invoker = InProcessInvoker(functions, destinations, max_workers=4, later=later)
        deps = Deps(store=store, invoker=invoker, clock=clock, grace_s=2.0, sink=sink, scheduler=invoker,
                    console_url="https://precheck.example.com/console")
        return Client(deps, functions), invoker

    yield clock, later, checks, sink, store, build
    store.close()


def start(client: Client, first: bool = False) -> dict:
    answer = (client.http.post("/instances", json=instance().model_dump(mode="json")) if first
              else client.http.post("/instances/erp-prod/prechecks"))
    assert answer.status in (200, 201, 202), answer.json
    return answer.json["run"]


def test_two_unchanged_runs_publish_two_events_the_second_with_nothing_changed(world):
    """Each run publishes one precheck.run.completed event (id = run id) once its last outcome is stored; the
    second, with the same verdicts, says nothing changed and names the first run's status."""
    clock, later, checks, sink, store, build = world
    client, _ = build()
    with client:
        first = start(client, first=True)
        assert client.drain(30)
        clock.now += 60
        second = start(client)
        assert client.drain(30)
    assert [event["id"] for event in sink.events] == [first["run_id"], second["run_id"]]
    one, two = sink.events
    assert (one["type"], one["source"], one["specversion"], one["subject"]) == (
        "precheck.run.completed", "precheck", "1.0", "erp-prod")
    assert one["data"]["status"] == "PASSED" and one["data"]["previous_status"] is None
    assert two["data"]["previous_status"] == "PASSED" and two["data"]["changed"] == []
    assert two["data"]["previous_run_id"] == first["run_id"]
    assert two["data"]["console_url"] == f"https://precheck.example.com/console/#/i/erp-prod/r/{second['run_id']}"
    assert store.end_mark("erp-prod", second["run_id"]).state == "published"


def test_a_database_going_offline_between_runs_is_named_in_changed(world):
    """database_status PASSED, then FAILED with `sales` OFFLINE: the second event's `changed` names the item
    and the database, and its status is FAILED."""
    clock, later, checks, sink, store, build = world
    client, _ = build()
    with client:
        start(client, first=True)
        assert client.drain(30)
        clock.now += 60
        checks.verdicts["database_status"] = (ItemStatus.FAILED, ["sales"])
        start(client)
        assert client.drain(30)
    event = sink.events[-1]
    assert event["data"]["status"] == "FAILED" and event["data"]["previous_status"] == "PASSED"
    assert event["data"]["changed"] == [{"item": "database_status", "from": "PASSED", "to": "FAILED",
                                         "appeared": ["sales"], "disappeared": []}]


def test_a_run_whose_checks_never_answer_publishes_one_timed_out_event_at_its_deadline_without_a_read(world):
    """No destination event ever arrives and nobody reads: the finalizer start scheduled (a delayed
    invocation of collect_outcome) stores TIMED_OUT for every item at the deadline and publishes once."""
    clock, later, checks, sink, store, build = world
    client, invoker = build(destinations=lambda function: None)  # the outcomes are lost on their way
    with client:
        run = start(client, first=True)
        assert client.drain(30)
        assert sink.events == [] and later.next_due() is not None
        assert later.next_due() >= run["deadline"]  # not before the deadline
        clock.now = run["deadline"] - 0.5
        assert later.play() == 0
        clock.now = later.next_due()
        assert later.play() == 1
        assert client.drain(30)
        clock.now += 3600
        later.play()
        assert client.drain(30)
    [event] = sink.events
    assert event["id"] == run["run_id"] and event["data"]["status"] == "TIMED_OUT"
    assert set(event["data"]["items"].values()) == {"TIMED_OUT"}
    stored = store.get_run("erp-prod", run["run_id"])
    assert {outcome.status for outcome in stored.outcomes.values()} == {ItemStatus.TIMED_OUT}
    assert len(stored.outcomes) == len(ITEMS)


def test_a_finalizer_that_cannot_publish_comes_back_and_publishes_once(world):
    """EventBridge down at the deadline: the finalizer holds the mark, comes back after LEASE_S, takes over
    its own stale mark and publishes; one event."""
    clock, later, checks, sink, store, build = world
    client, _ = build(destinations=lambda function: None)
    sink.fail = 1
    with client:
        run = start(client, first=True)
        assert client.drain(30)
        clock.now = later.next_due()
        later.play()
        assert client.drain(30)
        assert sink.events == [] and store.end_mark("erp-prod", run["run_id"]).state == "ending"
        clock.now += completion.LEASE_S + 1
        later.play()
        assert client.drain(30)
    assert [event["id"] for event in sink.events] == [run["run_id"]]
    assert store.end_mark("erp-prod", run["run_id"]).state == "published"


def test_the_event_is_cloudevents_json_and_carries_no_connection_detail(world):
    """The event has CloudEvents 1.0's required attributes, an RFC 3339 time, and none of the instance's
    server, user or password reference."""
    clock, later, checks, sink, store, build = world
    client, _ = build()
    registered = instance(server="10.9.8.7,1433", user="svc_dba_x7", password_ref="env:SQL_PW_ERP_X7")
    with client:
        assert client.http.post("/instances", json=registered.model_dump(mode="json")).status in (201, 202)
        assert client.drain(30)
    [event] = sink.events
    assert {"specversion", "id", "source", "type"} <= set(event) and event["time"].endswith("Z")
    text = json.dumps(event)
    for detail in ("10.9.8.7", "svc_dba_x7", "SQL_PW_ERP_X7", "password"):
        assert detail not in text


def test_a_finalize_payload_is_recognised_only_in_its_own_shape():
    """The collector tells a finalizer job from a destination event by its one key; anything else is not
    one (it goes on to the destination parser, which refuses what it cannot read)."""
    job = {"precheck_finalize": {"instance_id": "erp-prod", "run_id": "r1", "attempt": 2}}
    assert completion.parse_finalize(json.dumps(job).encode()) == completion.Finalize("erp-prod", "r1", 2)
    for bad in (b"{}", b"not json", b'{"precheck_finalize": 1}', json.dumps({**job, "x": 1}).encode(),
                json.dumps({"precheck_finalize": {"instance_id": "erp-prod", "run_id": "r1", "attempt": 99}}).encode(),
                json.dumps({"precheck_finalize": {"instance_id": "", "run_id": "r1"}}).encode()):
        assert completion.parse_finalize(bad) is None


def test_the_finalizer_job_the_marks_and_a_run_record_behave_as_the_dataclasses_they_were():
    """Written by hand (precheck.frozen): Finalize, EndMark and Recorded are frozen values (==, hash, repr,
    assignment refused); a RunRecord is mutable, compared by value, unhashable, and each one made without
    outcomes has its own dict, as the dataclass's default factory gave it."""
    job = completion.Finalize("erp-prod", "r1")
    assert job == completion.Finalize("erp-prod", "r1", 1) != completion.Finalize("erp-prod", "r1", 2)
    assert hash(job) == hash(completion.Finalize(instance_id="erp-prod", run_id="r1"))
    assert repr(job) == "Finalize(instance_id='erp-prod', run_id='r1', attempt=1)"
    mark = EndMark("ending", 1.5, "t")
    assert mark == EndMark(state="ending", since=1.5, token="t") != EndMark("published", 1.5, "t")
    assert repr(mark) == "EndMark(state='ending', since=1.5, token='t')"
    assert Recorded(True) and not Recorded(False, complete=True) and Recorded(False) == Recorded(False, False, "")
    for value, field in ((job, "attempt"), (mark, "state"), (Recorded(True), "stored")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)
    run = Run(run_id="r", instance_id="i", items=["a"], created_at=1, deadline=2)
    first, second = RunRecord(run), RunRecord(run=run)
    first.outcomes["a"] = Outcome(item="a", status=ItemStatus.PASSED, message="m", finished_at=1)
    assert second.outcomes == {} and first != second
    second.outcomes.update(first.outcomes)
    assert first == second and repr(first).startswith("RunRecord(run=Run(")
    with pytest.raises(TypeError):
        hash(first)


def test_changes_compare_statuses_and_database_names():
    """An item whose databases change with the same status is a change; one unchanged is not; a first run
    has no changes."""
    def view(status: ItemStatus, names: list[str]) -> Any:
        from precheck.models import Run
        from precheck.ports import RunRecord

        run = Run(run_id="r", instance_id="i", items=["database_status", "recovery_mode"], created_at=1, deadline=2)
        outcomes = {"database_status": Outcome(item="database_status", status=status, message="m", finished_at=1,
                                               affected=[AffectedDatabase(name=name) for name in names]),
                    "recovery_mode": Outcome(item="recovery_mode", status=ItemStatus.PASSED, message="m",
                                             finished_at=1)}
        return runevents.finished_view(RunRecord(run=run, outcomes=outcomes))

    assert runevents.changes(None, view(ItemStatus.FAILED, ["a"])) == []
    assert runevents.changes(view(ItemStatus.FAILED, ["a"]), view(ItemStatus.FAILED, ["a"])) == []
    assert runevents.changes(view(ItemStatus.FAILED, ["a"]), view(ItemStatus.FAILED, ["b"])) == [
        {"item": "database_status", "from": "FAILED", "to": "FAILED", "appeared": ["b"], "disappeared": ["a"]}]


def test_a_collector_that_ends_a_run_stays_within_its_fc_timeout_and_the_lease_outlives_it():
    """The worst collector: a cold start, its store calls (read, write, read again, the mark, the previous run,
    published, a mark read) and the EventBridge sink's whole budget, with the timeouts table's margin, fit
    collect_outcome's FC timeout; the lease that lets the finalizer take a mark over is longer than that
    timeout, so a live collector is never overtaken."""
    from precheck import timeouts
    from precheck.adapters import eventbridge_sink

    worst = timeouts.COLD_START_S + timeouts.store_wait(7) + eventbridge_sink.BUDGET_S + eventbridge_sink.ATTEMPT_S
    assert worst * (1 + timeouts.MARGIN_SHARE) <= timeouts.COLLECT_FUNCTION_TIMEOUT_S
    assert completion.LEASE_S > timeouts.COLLECT_FUNCTION_TIMEOUT_S
    assert completion.retry_delay(completion.FINALIZE_ATTEMPTS) <= completion.MAX_DELAY_S
