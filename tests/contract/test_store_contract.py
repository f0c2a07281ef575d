"""One contract for every result store: each implementation must pass all of it, so they cannot drift.

Add an implementation by adding a fixture to STORE_FACTORIES below.
"""

from __future__ import annotations

import json
import threading

import pytest

from precheck.checks import all_items
from precheck.models import ItemStatus, Outcome, Run
from precheck.service import invocation_id
from tests.fakes import instance


def sqlite_store(request, tmp_path):
    from precheck.adapters.sqlite_store import SqliteResultStore

    store = SqliteResultStore(tmp_path / "contract.db")
    request.addfinalizer(store.close)
    return store


def tablestore_store(request, tmp_path):
    """The Tablestore store through the real SDK, against an emulator started for the test."""
    from precheck.adapters.tablestore import BoundedRetryPolicy, TablestoreResultStore, create_tables
    from tablestore_emulator import TablestoreEmulator
    from tests.fixtures.tablestore import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TEST_INSTANCE, make_client

    emulator = TablestoreEmulator(access_key_id=TEST_ACCESS_KEY_ID, access_key_secret=TEST_ACCESS_KEY_SECRET,
                                  instance=TEST_INSTANCE, socket_timeout=5).start()
    request.addfinalizer(emulator.stop)
    client = make_client(emulator, retry_policy=BoundedRetryPolicy())
    create_tables(client)
    store = TablestoreResultStore(client)
    request.addfinalizer(store.close)
    return store


STORE_FACTORIES = {"sqlite": sqlite_store, "tablestore": tablestore_store}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def result_store(request, tmp_path):
    return STORE_FACTORIES[request.param](request, tmp_path)


def run(run_id: str, instance_id: str = "erp-prod", items=("a", "b")) -> Run:
    return Run(run_id=run_id, instance_id=instance_id, items=list(items), created_at=1.0, deadline=100.0)


def outcome(item: str = "a", status: ItemStatus = ItemStatus.PASSED, message: str = "ok") -> Outcome:
    return Outcome(item=item, status=status, message=message, finished_at=2.0)


def test_instances_round_trip_and_replace(result_store):
    """A saved instance reads back equal; saving it again replaces it."""
    first = instance(item_timeout_s=5)
    result_store.save_instance(first)
    assert result_store.get_instance("erp-prod") == first
    result_store.save_instance(instance(item_timeout_s=7))
    assert result_store.get_instance("erp-prod").item_timeout_s == 7
    assert result_store.get_instance("nope") is None


def test_instances_page_in_id_order_without_gaps_or_repeats(result_store):
    """Paging the registry returns every instance once, in id order."""
    ids = [f"inst-{i:03d}" for i in range(25)]
    for instance_id in reversed(ids):
        result_store.save_instance(instance(instance_id=instance_id))
    seen, after = [], None
    while True:
        page, after = result_store.list_instances(after, 10)
        assert len(page) <= 10
        seen.extend(i.instance_id for i in page)
        if after is None:
            break
    assert seen == ids


def test_latest_run_is_the_one_with_the_greatest_run_id(result_store):
    """The latest run is found by its time-ordered id, whatever the insertion order."""
    for run_id in ["0000000000002-b", "0000000000003-c", "0000000000001-a"]:
        result_store.create_run(run(run_id))
    result_store.create_run(run("0000000000009-z", instance_id="other"))
    assert result_store.latest_run("erp-prod").run.run_id == "0000000000003-c"
    assert result_store.latest_run("missing") is None


def test_outcomes_are_first_write_wins_per_item(result_store):
    """The same item's outcome twice stores the first; another item is unaffected."""
    result_store.create_run(run("0000000000001-a"))
    assert result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a", ItemStatus.WARNING, "first"))
    assert not result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a", ItemStatus.PASSED, "second"))
    assert result_store.record_outcome("erp-prod", "0000000000001-a", outcome("b"))
    record = result_store.get_run("erp-prod", "0000000000001-a")
    assert record.outcomes["a"].message == "first"
    assert set(record.outcomes) == {"a", "b"}
    assert result_store.latest_run("erp-prod").outcomes["a"].status is ItemStatus.WARNING


def test_concurrent_collectors_store_one_outcome(result_store):
    """Eight collectors racing on the same outcome: exactly one write succeeds."""
    result_store.create_run(run("0000000000001-a"))
    wins = []
    barrier = threading.Barrier(8)

    def collect(n: int) -> None:
        barrier.wait()
        if result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a", message=f"c{n}")):
            wins.append(n)

    threads = [threading.Thread(target=collect, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert result_store.get_run("erp-prod", "0000000000001-a").outcomes["a"].message == f"c{wins[0]}"


def test_the_largest_outcome_is_stored_whole_and_a_larger_one_is_refused(result_store):
    """32,767 databases with 128-character names, as the runner fits them, are stored and read back whole; an
    outcome beyond MAX_OUTCOME_BYTES is refused before anything is written (issue 11, finding 9)."""
    from precheck.models import MAX_OUTCOME_BYTES, AffectedDatabase
    from precheck.records import OutcomeTooLarge
    from precheck.runner import fit

    result_store.create_run(run("0000000000001-a"))
    whole = Outcome(item="a", status=ItemStatus.WARNING, message="many",
                    affected=[AffectedDatabase(name=f"{i:05d}" + "d" * 123, recovery_model="SIMPLE")
                              for i in range(32767)])
    with pytest.raises(OutcomeTooLarge):
        result_store.record_outcome("erp-prod", "0000000000001-a", whole)
    assert result_store.get_run("erp-prod", "0000000000001-a").outcomes == {}
    big = fit(whole)
    assert MAX_OUTCOME_BYTES * 0.9 < len(big.model_dump_json()) <= MAX_OUTCOME_BYTES
    assert result_store.record_outcome("erp-prod", "0000000000001-a", big)
    assert result_store.get_run("erp-prod", "0000000000001-a").outcomes["a"] == big


def test_hostile_names_round_trip_exactly(result_store):
    """Names with brackets, quotes, semicolons, trailing spaces and Unicode are stored byte-exact."""
    from precheck.models import AffectedDatabase

    names = ["a]b", "O'Brien", "semi;colon", "trailing ", "销售数据", "x" * 128]
    result_store.create_run(run("0000000000001-a"))
    result_store.record_outcome("erp-prod", "0000000000001-a",
                                Outcome(item="a", status=ItemStatus.WARNING, message="m",
                                        affected=[AffectedDatabase(name=n) for n in names]))
    stored = result_store.get_run("erp-prod", "0000000000001-a").outcomes["a"]
    assert [db.name for db in stored.affected] == names


def test_events_are_claimed_once(result_store):
    """An event key is claimed the first time only."""
    assert result_store.claim_event("cloudevent\nsrc\nid-1")
    assert not result_store.claim_event("cloudevent\nsrc\nid-1")
    assert result_store.claim_event("cloudevent\nsrc\nid-2")


def test_an_outcome_for_a_run_that_does_not_exist_is_not_stored(result_store):
    """Recording an outcome for an unknown run answers False and stores nothing, even once the run appears."""
    assert not result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a", message="orphan"))
    assert result_store.get_run("erp-prod", "0000000000001-a") is None
    result_store.create_run(run("0000000000001-a"))
    assert result_store.get_run("erp-prod", "0000000000001-a").outcomes == {}


def test_a_run_created_twice_keeps_the_first(result_store):
    """Creating a run that exists (a repeated request) leaves the stored run and its outcomes as they are."""
    result_store.create_run(run("0000000000001-a", items=("a", "b")))
    assert result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a"))
    result_store.create_run(run("0000000000001-a", items=("x",)))
    record = result_store.get_run("erp-prod", "0000000000001-a")
    assert record.run.items == ["a", "b"] and set(record.outcomes) == {"a"}


# --- one run per instance at a time (issue 11, finding 1) ------------------------------------------------------


def test_claim_run_is_a_compare_and_set_of_the_current_run(result_store):
    """The first claim of an instance wins; a claim replacing anything but the current run loses."""
    assert result_store.current_run("erp-prod") is None
    assert result_store.claim_run(run("0000000000001-a"), None)
    assert not result_store.claim_run(run("0000000000002-b"), None)
    assert not result_store.claim_run(run("0000000000003-c"), "0000000000009-z")
    assert result_store.current_run("erp-prod") == run("0000000000001-a")
    assert result_store.claim_run(run("0000000000004-d"), "0000000000001-a")
    assert not result_store.claim_run(run("0000000000005-e"), "0000000000001-a")
    assert result_store.current_run("erp-prod").run_id == "0000000000004-d"
    assert result_store.current_run("other") is None


def test_the_current_run_is_not_a_run(result_store):
    """A claimed run is no run until it is created: the latest run is only ever a created one."""
    result_store.claim_run(run("0000000000002-b"), None)
    assert result_store.latest_run("erp-prod") is None
    result_store.create_run(run("0000000000001-a"))
    assert result_store.latest_run("erp-prod").run.run_id == "0000000000001-a"


@pytest.mark.parametrize("replacing", [None, "0000000000001-a"])
def test_of_concurrent_claims_exactly_one_wins(result_store, replacing):
    """64 claims racing to replace the same current run (or to make the first one): one wins."""
    if replacing:
        result_store.claim_run(run(replacing), None)
    barrier = threading.Barrier(64)
    wins = []

    def claim(n: int) -> None:
        barrier.wait()
        if result_store.claim_run(run(f"00000000001{n:02d}-x"), replacing):
            wins.append(n)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert result_store.current_run("erp-prod").run_id == f"00000000001{wins[0]:02d}-x"


def test_concurrent_starts_of_one_instance_make_one_run(result_store):
    """200 simultaneous starts of one instance, on a store with a few ms of write latency: one 202 that
    created the run and invoked each check once; the 199 others answer 200 with that run."""
    from precheck.deps import Deps
    from precheck.testing import Client
    from tests.fakes import FlakyStore, RecordingInvoker, SlowStore

    counted = FlakyStore(SlowStore(result_store, delay=lambda: 0.005), {})
    invoker = RecordingInvoker()
    result_store.save_instance(instance())
    answers = []
    barrier = threading.Barrier(200)
    with Client(Deps(store=counted, invoker=invoker, grace_s=5.0)) as client:
        def start() -> None:
            barrier.wait()
            response = client.http.post("/instances/erp-prod/prechecks")
            answers.append((response.status, response.json.get("run", {}).get("run_id", response.json)))

        threads = [threading.Thread(target=start) for _ in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    statuses = sorted(status for status, _ in answers)
    assert [answer for answer in answers if answer[0] not in (200, 202)] == []
    assert statuses == [200] * 199 + [202]
    assert len({run_id for _, run_id in answers}) == 1
    # a start that saw the run claimed but not yet created completes its launch, idempotently: the same run
    # and the same invocation ids (FC runs an invocation id once)
    assert len({run_id for _, run_id in answers}) == 1
    assert {payload["run_id"] for _, payload, _ in invoker.calls} == {answers[0][1]}
    assert sorted({(payload["item"], invocation) for _, payload, invocation in invoker.calls}) == sorted(
        (item.name, invocation_id(answers[0][1], item.name)) for item in all_items())
    print(json.dumps({"suite": "concurrent_starts", "starts": 200, "runs": 1,
                      "create_run_calls": counted.calls["create_run"], "invoke_calls": len(invoker.calls)}))
    assert result_store.latest_run("erp-prod").run.run_id == answers[0][1]


# --- a registration event is never lost (issue 11, finding 2) ---------------------------------------------------


@pytest.mark.parametrize("failing", ["save_instance", "create_run", "claim_event"])
def test_a_registration_retried_after_a_failure_is_completed_once(result_store, failing):
    """A registration event whose handling fails (the save, the run or the event's claim) is completed by
    FC's retry; a repeat after that is a duplicate, and there is one run."""
    from precheck.deps import Deps
    from precheck.testing import Client
    from tests.fakes import FlakyStore, RecordingInvoker

    flaky = FlakyStore(result_store, {failing: 1})
    invoker = RecordingInvoker()
    with Client(Deps(store=flaky, invoker=invoker, grace_s=5.0)) as client:
        event = client.events.registration(instance(instance_id="crm-prod"), event_id="evt-1")
        with pytest.raises(Exception, match=f"injected failure of {failing}"):
            client.invoke("start_precheck", event)
        retried = client.invoke("start_precheck", event)
        repeated = client.invoke("start_precheck", event)
    assert retried.get("duplicate") is not True and retried["instance"]["instance_id"] == "crm-prod", retried
    assert repeated.get("duplicate") is True, repeated
    assert result_store.get_instance("crm-prod") is not None
    assert len({payload["run_id"] for _, payload, _ in invoker.calls}) == 1
    assert result_store.latest_run("crm-prod").run.run_id == invoker.calls[0][1]["run_id"]


def test_an_event_is_claimed_only_by_claim_event(result_store):
    """`event_claimed` reads: it claims nothing, and answers True once the event is claimed."""
    assert not result_store.event_claimed("cloudevent\nsrc\nid-1")
    assert not result_store.event_claimed("cloudevent\nsrc\nid-1")
    assert result_store.claim_event("cloudevent\nsrc\nid-1")
    assert result_store.event_claimed("cloudevent\nsrc\nid-1")
    assert not result_store.event_claimed("cloudevent\nsrc\nid-2")


# --- a finished item never flips back (issue 11, finding 4) ---------------------------------------------------


def test_after_a_reader_saw_timed_out_nobody_sees_anything_else(result_store):
    """A collector decides before the deadline and its write lands after it (store latency), while readers
    read past the deadline: whatever order the writes land in, once a reader saw TIMED_OUT every later
    reader sees TIMED_OUT, and what readers see past the deadline never changes."""
    import random

    from precheck.deps import Deps
    from precheck.models import CheckRequest
    from precheck.testing import Client
    from tests.fakes import Clock, RecordingInvoker, SlowStore

    rng = random.Random(11)
    clock = Clock()
    writing = threading.Event()
    delays = {"collector": 0.0, "reader": 0.0}

    def delay() -> float:
        return delays["collector" if threading.current_thread().name == "collector" else "reader"]

    def before_write(method: str) -> None:
        if threading.current_thread().name == "collector":
            writing.set()

    slow = SlowStore(result_store, delay, before_write)
    result_store.save_instance(instance())
    flips, orders = 0, set()
    with Client(Deps(store=slow, invoker=RecordingInvoker(), clock=clock, grace_s=1.0)) as client:
        for attempt in range(8):
            clock.now += 100
            delays["collector"] = rng.choice([0.05, 0.15])
            delays["reader"] = rng.choice([0.0, 0.1])
            started = client.http.post("/instances/erp-prod/prechecks").json["run"]
            request = CheckRequest(run_id=started["run_id"], instance=instance(), item="recovery_mode",
                                   deadline=started["deadline"])
            event = client.events.destination(request, outcome=Outcome(item="recovery_mode", status=ItemStatus.PASSED,
                                                                       message="ok", finished_at=clock.now))
            writing.clear()
            collector = threading.Thread(target=client.invoke, args=("collect_outcome", event), name="collector")
            collector.start()
            assert writing.wait(5)
            clock.now = started["deadline"] + 1  # the collector decided; its write is still on its way
            seen = []
            while collector.is_alive():
                seen.append(_item_status(client, "recovery_mode"))
            collector.join()
            seen += [_item_status(client, "recovery_mode") for _ in range(3)]
            orders.add(seen[-1])
            if "TIMED_OUT" in seen:
                first = seen.index("TIMED_OUT")
                flips += sum(1 for status in seen[first:] if status != "TIMED_OUT")
            assert len(set(seen)) == 1, seen
    assert flips == 0
    assert orders == {"TIMED_OUT", "PASSED"}  # both orders of the racing writes were exercised


def _item_status(client, item: str) -> str:
    run = client.http.get("/instances/erp-prod/prechecks/latest").json
    return next(entry["status"] for entry in run["items"] if entry["item"] == item)


# --- history (issue 14) ------------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_in_pages_without_gaps_or_repeats(result_store):
    """Paging an instance's history returns each run once, newest first, with its outcomes; other instances'
    runs and the current-run row never appear."""
    ids = [f"{n:013d}-{n:08x}" for n in range(1, 24)]
    for run_id in ids[::2] + ids[1::2]:
        result_store.create_run(run(run_id))
        result_store.record_outcome("erp-prod", run_id, outcome("a", message=run_id))
    result_store.create_run(run("0000000000099-zzzz", instance_id="erp-prod2"))
    result_store.claim_run(run(ids[-1]), None)
    seen, before, pages = [], None, 0
    while True:
        page, before = result_store.list_runs("erp-prod", before, 5)
        pages += 1
        assert 1 <= len(page) <= 5
        assert all(record.outcomes["a"].message == record.run.run_id for record in page)
        seen.extend(record.run.run_id for record in page)
        if before is None:
            break
    assert seen == ids[::-1] and pages == 5
    assert result_store.list_runs("missing", None, 5) == ([], None)
    exact, cursor = result_store.list_runs("erp-prod", None, len(ids))
    assert len(exact) == len(ids) and cursor is None  # a full last page says there is no more


def test_latest_runs_of_a_page_of_instances(result_store):
    """The two latest runs of each instance, newest first, as started runs are made current (claim_run) or
    not (runs from before current runs existed); [] for an instance without runs."""
    previous = None
    for run_id in ["0000000000001-a", "0000000000002-b", "0000000000003-c"]:
        assert result_store.claim_run(run(run_id), previous)
        result_store.create_run(run(run_id))
        previous = run_id
    result_store.record_outcome("erp-prod", "0000000000003-c", outcome("a", ItemStatus.FAILED))
    result_store.create_run(run("0000000000005-x", instance_id="legacy"))  # never claimed
    result_store.create_run(run("0000000000004-y", instance_id="legacy"))
    result_store.claim_run(run("0000000000007-k", instance_id="first"), None)
    result_store.create_run(run("0000000000007-k", instance_id="first"))
    latest = result_store.latest_runs(["erp-prod", "legacy", "first", "none"], 2)
    assert {key: [record.run.run_id for record in value] for key, value in latest.items()} == {
        "erp-prod": ["0000000000003-c", "0000000000002-b"], "legacy": ["0000000000005-x", "0000000000004-y"],
        "first": ["0000000000007-k"], "none": []}
    assert latest["erp-prod"][0].outcomes["a"].status is ItemStatus.FAILED
    assert [r.run.run_id for r in result_store.latest_runs(["erp-prod"], 1)["erp-prod"]] == ["0000000000003-c"]
    assert result_store.latest_runs([], 2) == {}


def test_latest_runs_when_the_current_run_was_claimed_but_never_created(result_store):
    """A start that crashed after its claim leaves a current run that does not exist: the latest runs are
    still the runs that do."""
    result_store.claim_run(run("0000000000001-a"), None)
    result_store.create_run(run("0000000000001-a"))
    result_store.claim_run(run("0000000000002-b"), "0000000000001-a")  # never created
    latest = result_store.latest_runs(["erp-prod"], 2)
    assert [record.run.run_id for record in latest["erp-prod"]] == ["0000000000001-a"]


def test_latest_runs_of_more_instances_than_one_batch_holds(result_store):
    """More than 100 instances (a BatchGetRow's most) are all answered."""
    ids = [f"inst-{n:03d}" for n in range(130)]
    for instance_id in ids:
        result_store.claim_run(run("0000000000001-a", instance_id=instance_id), None)
        result_store.create_run(run("0000000000001-a", instance_id=instance_id))
        result_store.claim_run(run("0000000000002-b", instance_id=instance_id), "0000000000001-a")
        result_store.create_run(run("0000000000002-b", instance_id=instance_id))
    latest = result_store.latest_runs(ids, 2)
    assert all([r.run.run_id for r in latest[i]] == ["0000000000002-b", "0000000000001-a"] for i in ids)


def test_record_outcome_says_when_the_run_is_complete_without_a_read(result_store):
    """Only the write that stores the run's last outcome answers complete; a repeat of a complete run says so
    too (a redelivery after a crash still ends the run); an unknown run or item stores nothing and says which."""
    result_store.create_run(run("0000000000001-a", items=("a", "b", "c")))
    first = result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a"))
    second = result_store.record_outcome("erp-prod", "0000000000001-a", outcome("b"))
    assert (first.stored, first.complete, second.stored, second.complete) == (True, False, True, False)
    repeat = result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a", message="again"))
    assert (repeat.stored, repeat.complete, repeat.missing) == (False, False, "")
    last = result_store.record_outcome("erp-prod", "0000000000001-a", outcome("c"))
    assert (last.stored, last.complete) == (True, True)
    again = result_store.record_outcome("erp-prod", "0000000000001-a", outcome("c", message="again"))
    assert (again.stored, again.complete, again.missing) == (False, True, "")
    stranger = result_store.record_outcome("erp-prod", "0000000000001-a", outcome("z"))
    assert (stranger.stored, stranger.missing) == (False, "item")
    nowhere = result_store.record_outcome("erp-prod", "0000000000009-x", outcome("a"))
    assert (nowhere.stored, nowhere.missing) == (False, "run")
    assert sorted(result_store.get_run("erp-prod", "0000000000001-a").outcomes) == ["a", "b", "c"]


def test_of_simultaneous_last_outcomes_exactly_one_completes_the_run(result_store):
    """Two collectors storing a run's last two items at once: both stored, exactly one told complete."""
    for attempt in range(20):
        run_id = f"00000000000{attempt:02d}-p"
        result_store.create_run(run(run_id, items=("a", "b", "c")))
        result_store.record_outcome("erp-prod", run_id, outcome("a"))
        answers: list = []
        barrier = threading.Barrier(2)

        def store(item: str) -> None:
            barrier.wait()
            answers.append(result_store.record_outcome("erp-prod", run_id, outcome(item)))  # noqa: B023

        threads = [threading.Thread(target=store, args=(item,)) for item in ("b", "c")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [answer.stored for answer in answers] == [True, True]
        assert sorted(answer.complete for answer in answers) == [False, True]


def test_run_complete_says_whether_every_item_has_an_outcome(result_store):
    """A start's question, answered without the outcomes: the run, and whether it is complete."""
    assert result_store.run_complete("erp-prod", "0000000000001-a") is None
    result_store.create_run(run("0000000000001-a"))
    stored, complete = result_store.run_complete("erp-prod", "0000000000001-a")
    assert (stored.run_id, complete) == ("0000000000001-a", False)
    result_store.record_outcome("erp-prod", "0000000000001-a", outcome("a"))
    assert result_store.run_complete("erp-prod", "0000000000001-a")[1] is False
    result_store.record_outcome("erp-prod", "0000000000001-a", outcome("b"))
    assert result_store.run_complete("erp-prod", "0000000000001-a")[1] is True
