"""One contract for every result store: each implementation must pass all of it, so they cannot drift.

Add an implementation by adding a fixture to STORE_FACTORIES below.
"""

from __future__ import annotations

import threading

import pytest

from precheck.models import ItemStatus, Outcome, Run
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
