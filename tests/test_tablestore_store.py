"""The Tablestore result store's schema and access paths, through the real SDK against the emulator.

The contract suite (tests/contract) pins what every store does; these tests pin how this one does it:
how many requests each operation costs, how large outcomes are stored, retries, TTLs, configuration,
`precheck store init`, and the whole local flow with the store chosen by configuration alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest

from precheck import store_cli
from precheck.adapters.credentials import Credentials
from precheck.adapters.tablestore import (
    BoundedRetryPolicy,
    Connection,
    TableNames,
    TablestoreResultStore,
    create_tables,
    event_key,
    parse_url,
)
from precheck.checks import all_items
from precheck.models import MAX_OUTCOME_BYTES, AffectedDatabase, ItemStatus, Outcome, Run
from precheck.ports import StoreError
from precheck.records import OutcomeTooLarge
from precheck.runner import fit
from tests.fakes import instance
from tests.fixtures.tablestore import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE,
    make_client,
)
from tests.helpers import Listener, closed_port

pytestmark = pytest.mark.emulator

FAST_RETRIES = BoundedRetryPolicy(base_delay=0.01)
RUN = "0000000000001-a"


@pytest.fixture
def emu(tablestore_emulator):  # noqa: F811  (the fixture imported above)
    return tablestore_emulator


@pytest.fixture
def client(emu):
    result = make_client(emu, retry_policy=FAST_RETRIES)
    create_tables(result)
    return result


@pytest.fixture
def store(client):
    return TablestoreResultStore(client)


def run(run_id: str = RUN, instance_id: str = "erp-prod", items=("a", "b")) -> Run:
    return Run(run_id=run_id, instance_id=instance_id, items=list(items), created_at=1.0, deadline=100.0)


def outcome(item: str = "a", message: str = "ok", **fields) -> Outcome:
    return Outcome(item=item, status=fields.pop("status", ItemStatus.PASSED), message=message, finished_at=2.0,
                   **fields)


def seed(client, table: str, rows: list[tuple[list, list]]) -> None:
    """Write many rows through BatchWriteRow (200 a request), as the stored state a test starts from."""
    import tablestore

    for first in range(0, len(rows), 200):
        request = tablestore.BatchWriteRowRequest()
        request.add(tablestore.TableInBatchWriteRowItem(table, [
            tablestore.PutRowItem(tablestore.Row(key, columns), tablestore.Condition("IGNORE"))
            for key, columns in rows[first:first + 200]]))
        assert client.batch_write_row(request).is_all_succeed()


class Requests:
    """Requests of each API the emulator received since the last `delta()`."""

    APIS = ("GetRow", "GetRange", "PutRow", "UpdateRow", "BatchWriteRow", "BatchGetRow", "DeleteRow")

    def __init__(self, emulator):
        self.emulator = emulator
        self.before = self._counts()

    def _counts(self) -> dict[str, int]:
        return {api: self.emulator.request_count(api) for api in self.APIS}

    def delta(self) -> dict[str, int]:
        now = self._counts()
        changed = {api: now[api] - self.before[api] for api in self.APIS if now[api] != self.before[api]}
        self.before = now
        return changed


# --- access paths ------------------------------------------------------------------------------------------


def test_latest_run_is_one_get_range_whatever_the_history(emu, client, store):
    """With 500 runs stored, the latest run and its outcomes come back in exactly one GetRange."""
    seed(client, store.tables.runs, [([("instance_id", "erp-prod"), ("run_id", f"{n:013d}-r")],
                                      [("run", run(f"{n:013d}-r").model_dump_json())]) for n in range(500)])
    store.create_run(run("0000000000499-s", instance_id="erp-prod-2"))  # a neighbour sorts after it
    assert store.record_outcome("erp-prod", "0000000000499-r", outcome("a", "latest"))
    requests = Requests(emu)
    latest = store.latest_run("erp-prod")
    assert requests.delta() == {"GetRange": 1}
    assert latest.run.run_id == "0000000000499-r"
    assert latest.outcomes["a"].message == "latest"
    assert store.latest_run("nobody") is None


def test_get_run_is_one_get_row(emu, store):
    """A run with its outcomes is one GetRow."""
    store.create_run(run())
    store.record_outcome("erp-prod", RUN, outcome("a"))
    requests = Requests(emu)
    assert set(store.get_run("erp-prod", RUN).outcomes) == {"a"}
    assert requests.delta() == {"GetRow": 1}
    assert store.get_run("erp-prod", "0000000000002-x") is None


def test_record_outcome_is_one_conditional_write_and_a_late_duplicate_is_refused(emu, store):
    """Storing an outcome that does not complete the run is one UpdateRow; a later outcome of the same item
    returns False and changes nothing (its two conditional writes fail, then the small columns say why)."""
    store.create_run(run())
    requests = Requests(emu)
    assert store.record_outcome("erp-prod", RUN, outcome("a", "first", status=ItemStatus.WARNING))
    assert requests.delta() == {"UpdateRow": 1}
    assert not store.record_outcome("erp-prod", RUN, outcome("a", "late", status=ItemStatus.TIMED_OUT))
    assert requests.delta() == {"UpdateRow": 2, "GetRow": 1}
    assert store.record_outcome("erp-prod", RUN, outcome("b", "other item"))
    stored = store.get_run("erp-prod", RUN).outcomes
    assert (stored["a"].message, stored["a"].status, stored["b"].message) == ("first", ItemStatus.WARNING, "other item")


def test_an_outcome_of_a_run_that_does_not_exist_is_not_stored(store):
    """No run row, no outcome: the write's EXPECT_EXIST refuses it (and creates no row)."""
    assert not store.record_outcome("erp-prod", RUN, outcome("a"))
    assert store.get_run("erp-prod", RUN) is None


def test_create_run_twice_keeps_the_first(store):
    """A repeated create_run (a retried start) leaves the stored run and its outcomes alone."""
    store.create_run(run(items=("a",)))
    store.record_outcome("erp-prod", RUN, outcome("a"))
    store.create_run(run(items=("a", "b", "c")))
    record = store.get_run("erp-prod", RUN)
    assert record.run.items == ["a"] and set(record.outcomes) == {"a"}


def test_the_32767_database_outcome_as_the_runner_fits_it_is_one_write_and_one_read(emu, store):
    """32,767 names of 128 characters, cut by the runner to its budget, are one UpdateRow and one GetRange."""
    store.create_run(run())
    big = fit(outcome("a", "many", status=ItemStatus.WARNING,
                      affected=[AffectedDatabase(name=f"{i:05d}" + "d" * 123, recovery_model="SIMPLE")
                                for i in range(32767)]))
    assert big.affected_omitted > 30000
    requests = Requests(emu)
    assert store.record_outcome("erp-prod", RUN, big)
    assert requests.delta() == {"UpdateRow": 1}
    latest = store.latest_run("erp-prod")
    assert requests.delta() == {"GetRange": 1}
    assert latest.outcomes["a"] == big
    assert not store.record_outcome("erp-prod", RUN, big)  # first write wins


def test_an_outcome_over_the_cap_is_refused_before_any_write(emu, store):
    """Issue 11 finding 9: nothing is staged across writes any more; an outcome beyond MAX_OUTCOME_BYTES is
    refused at the store's edge (no request at all), and the item can still take a normal outcome."""
    store.create_run(run())
    names = [os.urandom(48).hex() for _ in range(2000)]  # ~200 KB of JSON
    big = outcome("a", "random names", affected=[AffectedDatabase(name=name) for name in names])
    assert len(big.model_dump_json()) > MAX_OUTCOME_BYTES
    requests = Requests(emu)
    with pytest.raises(OutcomeTooLarge) as refused:
        store.record_outcome("erp-prod", RUN, big)
    assert "at most 100000" in refused.value.message
    assert requests.delta() == {}
    assert store.record_outcome("erp-prod", RUN, outcome("a", "small"))
    assert store.get_run("erp-prod", RUN).outcomes["a"].message == "small"


def test_items_that_are_not_column_names_are_stored_under_a_hash(store):
    """An item named with characters a column name cannot hold round-trips exactly."""
    store.create_run(run(items=("odd item/名", "a")))
    assert store.record_outcome("erp-prod", RUN, outcome("odd item/名", "x"))
    assert not store.record_outcome("erp-prod", RUN, outcome("odd item/名", "y"))
    assert store.get_run("erp-prod", RUN).outcomes["odd item/名"].message == "x"


def test_instances_page_forward_with_one_get_range_per_page(emu, client, store):
    """250 instances in pages of 100: 3 pages, in id order, each one GetRange."""
    ids = [f"inst-{n:04d}" for n in range(250)]
    seed(client, store.tables.instances, [([("instance_id", instance_id)],
                                           [("instance", instance(instance_id=instance_id).model_dump_json())])
                                          for instance_id in ids])
    requests = Requests(emu)
    pages, after = [], None
    while True:
        page, after = store.list_instances(after, 100)
        pages.append([item.instance_id for item in page])
        if after is None:
            break
    assert [len(page) for page in pages] == [100, 100, 50]
    assert sum(pages, []) == ids
    assert requests.delta() == {"GetRange": 3}
    assert store.list_instances("inst-0249", 100) == ([], None)
    exact, cursor = store.list_instances("inst-0149", 100)
    assert len(exact) == 100 and cursor is None


def test_events_are_claimed_once_and_long_keys_are_hashed(store):
    """A claim is one PutRow EXPECT_NOT_EXIST; a key beyond the 1 KB key limit is hashed, not refused."""
    long_key = "cloudevent\nsrc\n" + "i" * 5000
    assert store.claim_event(long_key) and not store.claim_event(long_key)
    assert store.claim_event(long_key + "x")
    assert event_key("short") == "short"
    assert event_key(long_key).startswith("sha256:") and len(event_key(long_key)) == 71
    assert event_key("sha256:" + "0" * 64) != "sha256:" + "0" * 64


def test_a_claim_whose_answer_was_lost_is_still_ours(client, store):
    """Our claim applied, its answer lost, the repeat refused: the claim's token shows the claim is ours."""
    send = client.connection.send_receive

    def applied_then_repeated(url, headers, body):  # the first copy is applied; the repeat's answer arrives
        send(url, headers, body)
        return send(url, headers, body)

    store.create_run(run())
    client.connection.send_receive = applied_then_repeated
    assert store.claim_event("k")
    assert not store.claim_event("k")
    # an outcome in the same position reads as "already stored": it is, and it is this one
    assert not store.record_outcome("erp-prod", RUN, outcome("a", "mine"))
    assert store.get_run("erp-prod", RUN).outcomes["a"].message == "mine"


def test_a_run_claim_whose_answer_was_lost_is_still_ours(client, store):
    """A current-run claim applied whose answer was lost, the repeat refused by its condition: the stored
    current run id shows the claim is ours (True), and a rival's claim is still refused."""
    send = client.connection.send_receive

    def applied_then_repeated(url, headers, body):
        send(url, headers, body)
        return send(url, headers, body)

    client.connection.send_receive = applied_then_repeated
    assert store.claim_run(run("0000000000001-a"), None)
    assert store.claim_run(run("0000000000002-b"), "0000000000001-a")
    client.connection.send_receive = send
    assert not store.claim_run(run("0000000000003-c"), "0000000000001-a")
    assert store.current_run("erp-prod").run_id == "0000000000002-b"


# --- errors and retries ---------------------------------------------------------------------------------------


def test_throttling_is_retried_and_the_write_succeeds(emu, store):
    """Two OTSServerBusy answers to UpdateRow are retried: the third attempt stores the outcome."""
    store.create_run(run())
    emu.inject_errors("UpdateRow", code="OTSServerBusy", status=503, times=2)
    requests = Requests(emu)
    assert store.record_outcome("erp-prod", RUN, outcome("a"))
    assert requests.delta() == {"UpdateRow": 3}
    assert "a" in store.get_run("erp-prod", RUN).outcomes


@pytest.mark.parametrize("code", ["OTSPartitionUnavailable", "OTSTimeout", "OTSQuotaExhausted"])
def test_busy_answers_are_retried_on_reads_and_writes(emu, store, code):
    """Partition moves, timeouts and table-operation quotas are retried too."""
    emu.inject_errors("*", code=code, status=503 if code != "OTSQuotaExhausted" else 403, times=1,
                      message="Too frequent table operations." if code == "OTSQuotaExhausted" else None)
    store.save_instance(instance())
    emu.inject_errors("*", code=code, status=503 if code != "OTSQuotaExhausted" else 403, times=1,
                      message="Too frequent table operations." if code == "OTSQuotaExhausted" else None)
    assert store.get_instance("erp-prod") is not None


def test_persistent_throttling_surfaces_as_a_store_error_within_bounded_time(emu, store):
    """Busy forever: four attempts, then StoreError naming the code, in well under two seconds of back-off."""
    store.create_run(run())
    emu.inject_errors("*", code="OTSServerBusy", status=503, times=-1)
    requests = Requests(emu)
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        store.record_outcome("erp-prod", RUN, outcome("a"))
    assert time.monotonic() - started < 2.0 * 10  # a guard only; the bound is the policy's, asserted below
    assert requests.delta() == {"UpdateRow": 4}
    assert raised.value.kind == "throttled" and "OTSServerBusy" in raised.value.message
    assert BoundedRetryPolicy().worst_total_delay <= 2.0


def test_a_client_error_is_not_retried(emu, store):
    """OTSParameterInvalid fails at once as a StoreError."""
    emu.inject_errors("GetRow", code="OTSParameterInvalid", status=400, times=1, message="bad")
    requests = Requests(emu)
    with pytest.raises(StoreError) as raised:
        store.get_instance("erp-prod")
    assert requests.delta() == {"GetRow": 1}
    assert "OTSParameterInvalid" in raised.value.message


def test_errors_never_carry_the_credentials(emu):
    """A refused signature, and a missing table, are StoreErrors whose messages hold no secret."""
    secret, token = "wrong-secret-value-123", "sts-token-value-456"
    connection = Connection(emu.endpoint, TEST_INSTANCE, retry_policy=FAST_RETRIES)
    store = TablestoreResultStore(connection=connection,
                                  credentials=Credentials(TEST_ACCESS_KEY_ID, secret, token))
    with pytest.raises(StoreError) as refused:
        store.get_instance("erp-prod")
    assert "OTSAuthFailed" in refused.value.message
    good = TablestoreResultStore(connection=connection,
                                 credentials=Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, token))
    with pytest.raises(StoreError) as missing:
        good.get_instance("erp-prod")
    assert missing.value.kind == "missing_table" and "precheck store init" in missing.value.message
    for error in (refused.value, missing.value):
        for text in (str(error), error.message, repr(error)):
            assert secret not in text and token not in text and TEST_ACCESS_KEY_SECRET not in text


def test_an_unreachable_endpoint_fails_fast(emu):
    """A closed port is a StoreError ("unavailable") within the socket timeout, not the SDK's default 50 s."""
    store = TablestoreResultStore(connection=Connection(f"http://127.0.0.1:{closed_port()}", TEST_INSTANCE,
                                                        socket_timeout=1),
                                  credentials=Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET))
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        store.latest_run("erp-prod")
    assert time.monotonic() - started < 30  # a guard: the SDK's own default would be 50 s
    assert raised.value.kind == "unavailable" and "connection refused" in raised.value.message


def test_a_silent_endpoint_fails_within_the_socket_timeout(emu):
    """An endpoint that accepts and never answers fails after the socket timeout."""
    silent = Listener(silent=True)
    try:
        store = TablestoreResultStore(connection=Connection(f"http://{silent.endpoint}", TEST_INSTANCE,
                                                            socket_timeout=0.5),
                                      credentials=Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET))
        started = time.monotonic()
        with pytest.raises(StoreError) as raised:
            store.get_instance("erp-prod")
        assert time.monotonic() - started < 30  # a guard: the SDK's own default would be 50 s
        assert raised.value.kind == "unavailable"
    finally:
        silent.close()


# --- TTL and tables ---------------------------------------------------------------------------------------------


def test_tables_get_the_ttls_asked_for_and_history_expires(emu):
    """Runs and events expire after their TTL; instances never do; init again with other TTLs updates them."""
    client = make_client(emu)
    assert create_tables(client, runs_ttl_days=30, events_ttl_days=2) == dict.fromkeys(TableNames().all(), "created")
    ttl = {name: client.describe_table(name).table_options.time_to_live for name in TableNames().all()}
    assert ttl == {"precheck_instances": -1, "precheck_runs": 30 * 86400, "precheck_events": 2 * 86400}
    store = TablestoreResultStore(client)
    store.save_instance(instance())
    store.create_run(run())
    store.record_outcome("erp-prod", RUN, outcome("a"))
    assert store.claim_event("k")
    emu.advance_clock(3 * 86400)
    assert store.claim_event("k")  # the old claim has expired
    assert store.latest_run("erp-prod") is not None
    emu.advance_clock(30 * 86400)
    assert store.latest_run("erp-prod") is None and store.get_run("erp-prod", RUN) is None
    assert store.get_instance("erp-prod") is not None
    again = create_tables(client, runs_ttl_days=90, events_ttl_days=2)
    assert again == {"precheck_instances": "exists", "precheck_runs": "updated", "precheck_events": "exists"}
    assert client.describe_table("precheck_runs").table_options.time_to_live == 90 * 86400


def test_a_table_with_another_key_is_refused(emu):
    """init does not adopt a table of the same name whose primary key differs."""
    import tablestore

    client = make_client(emu)
    client.create_table(tablestore.TableMeta("precheck_runs", [("id", "INTEGER")]), tablestore.TableOptions(),
                        tablestore.ReservedThroughput(tablestore.CapacityUnit(0, 0)))
    with pytest.raises(StoreError, match="exists with primary key"):
        create_tables(client)


# --- configuration and credentials --------------------------------------------------------------------------------


def test_configuration_from_the_settings_and_the_url():
    """Endpoint, instance and table prefix are the configured ones (PRECHECK_OTS_*, passed by the wiring) unless
    the URL names them; the VPC endpoint is derived from the region."""
    connection, tables = parse_url("tablestore:", instance="prod", region="cn-shanghai")
    assert connection.endpoint == "https://prod.cn-shanghai.vpc.tablestore.aliyuncs.com"
    assert connection.instance == "prod" and connection.socket_timeout == 5.0
    assert tables == TableNames("precheck_instances", "precheck_runs", "precheck_events")
    connection, tables = parse_url("tablestore://other?endpoint=http://127.0.0.1:9&prefix=t_",
                                   instance="prod", region="cn-beijing", prefix="x_", timeout_s=2)
    assert (connection.endpoint, connection.instance, connection.socket_timeout) == ("http://127.0.0.1:9", "other", 2.0)
    assert tables.runs == "t_runs"
    assert parse_url("tablestore:", instance="p", endpoint="https://e/", prefix="pc_")[1].events == "pc_events"
    for url, configured, words in [("tablestore:", {}, "PRECHECK_OTS_INSTANCE"),
                                   ("tablestore:", {"instance": "p"}, "region"),
                                   ("tablestore:?bogus=1", {"instance": "p"}, "bogus"),
                                   ("tablestore:", {"instance": "p", "endpoint": "e.com"}, "http"),
                                   ("tablestore:?prefix=9-", {"instance": "p", "region": "r"}, "prefix")]:
        with pytest.raises(ValueError, match=words):
            parse_url(url, **configured)


def test_a_connection_has_its_own_retry_policy_which_equality_ignores():
    """As the frozen dataclasses they were (precheck.frozen): each Connection made without a retry policy gets a
    new BoundedRetryPolicy (the default factory), shown in the repr but neither compared nor hashed."""
    first, second = Connection("http://e", "i"), Connection("http://e", "i")
    assert isinstance(first.retry_policy, BoundedRetryPolicy) and first.retry_policy is not second.retry_policy
    assert first == second and hash(first) == hash(second) and first != Connection("http://e", "i", 6.0)
    assert Connection("http://e", "i", retry_policy=FAST_RETRIES).retry_policy is FAST_RETRIES
    assert repr(first).startswith("Connection(endpoint='http://e', instance='i', socket_timeout=5.0, retry_policy=")
    assert repr(TableNames()) == "TableNames(instances='precheck_instances', runs='precheck_runs', " \
                                 "events='precheck_events')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.instance = "j"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TableNames().runs = "x"  # type: ignore[misc]


def test_the_store_reads_no_environment(monkeypatch):
    """Configuration comes only from its arguments: PRECHECK_OTS_* and keys in the environment change nothing."""
    for name, value in {"PRECHECK_OTS_INSTANCE": "env", "PRECHECK_OTS_REGION": "cn-beijing",
                        "PRECHECK_OTS_ENDPOINT": "https://env.example", "PRECHECK_OTS_TABLE_PREFIX": "env_",
                        "PRECHECK_OTS_TIMEOUT_S": "9", "ALIBABA_CLOUD_ACCESS_KEY_ID": "env-key",
                        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="PRECHECK_OTS_INSTANCE"):
        parse_url("tablestore:")
    store = TablestoreResultStore.from_url("tablestore:", instance="prod", region="cn-shanghai")
    assert store.connection.endpoint == "https://prod.cn-shanghai.vpc.tablestore.aliyuncs.com"
    assert store.tables == TableNames() and store.connection.socket_timeout == 5.0
    with pytest.raises(StoreError, match="no credentials"):
        store.client
    with pytest.raises(ValueError, match="client"):
        TablestoreResultStore()


def test_from_url_uses_the_credentials_given(emu, client, monkeypatch):
    """from_url builds its client from the credentials and the endpoint it is given: no code, only configuration."""
    configured = {"endpoint": emu.endpoint, "instance": TEST_INSTANCE}
    keys = Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)
    TablestoreResultStore.from_url("tablestore:", credentials=keys, **configured).save_instance(instance())
    for name in ["PRECHECK_OTS_ENDPOINT", "PRECHECK_OTS_INSTANCE", "ALIBABA_CLOUD_ACCESS_KEY_ID",
                 "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "PRECHECK_OTS_TABLE_PREFIX"]:
        monkeypatch.delenv(name, raising=False)
    without = TablestoreResultStore.from_url("tablestore:", **configured)
    with pytest.raises(StoreError, match="no credentials"):
        without.get_instance("erp-prod")
    env = {"PRECHECK_STORE": "tablestore:", "PRECHECK_OTS_ENDPOINT": emu.endpoint,
           "PRECHECK_OTS_INSTANCE": TEST_INSTANCE, "ALIBABA_CLOUD_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": TEST_ACCESS_KEY_SECRET}
    from precheck import wiring
    from precheck.settings import Settings

    settings = Settings.from_environ(env)
    configured_store = wiring.make_store(settings, settings.credentials)  # what the functions get from PRECHECK_STORE
    assert isinstance(configured_store, TablestoreResultStore)
    assert configured_store.get_instance("erp-prod") is not None


def test_refresh_takes_rotated_sts_credentials(emu, client):
    """refresh(credentials) rebuilds the client when the STS credentials changed, and only then."""
    def sts(token: str) -> Credentials:
        return Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, token)

    emu.authenticator.sts_token = "token-1"
    store = TablestoreResultStore(connection=Connection(emu.endpoint, TEST_INSTANCE, retry_policy=FAST_RETRIES))
    store.refresh(sts("token-1"))
    first = store.client
    store.save_instance(instance())
    store.refresh(sts("token-1"))
    assert store.client is first
    store.refresh(None)  # an invocation without credentials: keep these
    assert store.client is first
    emu.authenticator.sts_token = "token-2"  # the service now wants the rotated token
    with pytest.raises(StoreError):
        store.get_instance("erp-prod")
    store.refresh(sts("token-2"))
    assert store.client is not first
    assert store.get_instance("erp-prod") is not None
    given = TablestoreResultStore(client)  # a client given by the caller is kept
    given.refresh(sts("token-3"))
    assert given.client is client


def test_importing_the_store_cli_does_not_import_the_sdk():
    """`import tablestore` costs ~220 ms: only the Tablestore adapter pays it."""
    probe = "import sys, precheck.store_cli, precheck.wiring; print('tablestore' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "False", result.stderr


# --- precheck store init ---------------------------------------------------------------------------------------------


def ots_env(emu) -> dict[str, str]:
    return {"PRECHECK_STORE": "tablestore:", "PRECHECK_OTS_ENDPOINT": emu.endpoint,
            "PRECHECK_OTS_INSTANCE": TEST_INSTANCE, "ALIBABA_CLOUD_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": TEST_ACCESS_KEY_SECRET}


def test_store_init_is_idempotent(emu, monkeypatch, capsys):
    """`precheck store init` creates the tables, then finds them; a new TTL is applied to the existing table."""
    for name, value in ots_env(emu).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    assert store_cli.main(["init", "--runs-ttl-days", "30"]) == 0
    first = capsys.readouterr().out
    assert "precheck_runs: created (TTL 30 days)" in first and "precheck_instances: created (never expires)" in first
    assert store_cli.main(["init", "--runs-ttl-days", "30"]) == 0
    second = capsys.readouterr().out
    assert second.count("already existed") == 3 and "created" not in second
    assert store_cli.main(["init", "--store", "tablestore:", "--runs-ttl-days", "60"]) == 0
    assert "precheck_runs: already existed; TTL updated (TTL 60 days)" in capsys.readouterr().out
    assert make_client(emu).describe_table("precheck_runs").table_options.time_to_live == 60 * 86400
    assert TEST_ACCESS_KEY_SECRET not in first + second


def test_store_init_explains_what_is_missing(emu, monkeypatch, capsys, tmp_path):
    """Missing configuration exits 2 with the variable to set; an SQLite store's init creates its file."""
    monkeypatch.delenv("PRECHECK_OTS_INSTANCE", raising=False)
    assert store_cli.main(["init", "--store", "tablestore:"]) == 2
    assert "PRECHECK_OTS_INSTANCE" in capsys.readouterr().err
    monkeypatch.setenv("PRECHECK_OTS_INSTANCE", TEST_INSTANCE)
    monkeypatch.setenv("PRECHECK_OTS_ENDPOINT", emu.endpoint)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert store_cli.main(["init", "--store", "tablestore:"]) == 2
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in capsys.readouterr().err
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert store_cli.main(["init", "--store", url]) == 0 and "created" in capsys.readouterr().out
    assert store_cli.main(["init", "--store", url]) == 0 and "already existed" in capsys.readouterr().out
    assert store_cli.main(["init", "--store", "mongodb://x"]) == 2
    assert store_cli.main(["frobnicate"]) == 2


# --- the whole local flow on Tablestore -------------------------------------------------------------------------------


def test_precheck_check_and_last_use_tablestore_by_configuration_alone(emu, tmp_path, listener):
    """`precheck store init`, `precheck check` and `precheck last` against the emulator: the run is in Tablestore."""
    env = {**os.environ, **ots_env(emu), "PRECHECK_HOME": str(tmp_path), "SQL_PW": "Sup3r-Secret-Pw"}
    env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)

    def precheck(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "precheck.cli", *args], env=env, capture_output=True,
                              text=True, timeout=60)

    init = subprocess.run([sys.executable, "-m", "precheck.store_cli", "init"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    writes = emu.request_count("UpdateRow")
    checked = precheck("check", "--server", f"127.0.0.1,{closed_port()}", "--user", "backup", "--password-env",
                       "SQL_PW", "--region", "cn-hangzhou", "--oss-endpoint", listener.endpoint,
                       "--control-endpoint", listener.endpoint, "--timeout", "3", "--json")
    assert checked.returncode == 1, checked.stderr
    view = json.loads(checked.stdout)
    # one conditional write per item's outcome, one more (its failed condition: "not the last") for the
    # outcome that completes the run, and the run's event marked published (precheck.completion)
    assert emu.request_count("UpdateRow") - writes == len(all_items()) + 2
    reads = emu.request_count("GetRange")
    shown = precheck("last", view["instance_id"], "--json")
    assert shown.returncode == 1, shown.stderr
    assert emu.request_count("GetRange") == reads + 1
    last = json.loads(shown.stdout)
    assert last["run_id"] == view["run_id"]
    # the network items pass; every SQL item (issue 15 added seven) meets the closed SQL port
    assert {item["item"]: item["status"] for item in last["items"]} == {
        item.name: "ERROR" if item.reads_secrets else "PASSED" for item in all_items()}
    stored = TablestoreResultStore(make_client(emu)).latest_run(view["instance_id"])
    assert stored.run.run_id == view["run_id"] and len(stored.outcomes) == len(all_items())
    assert not list(tmp_path.rglob("*.db"))  # nothing went to SQLite
    assert "Native C++" not in checked.stderr + shown.stderr
