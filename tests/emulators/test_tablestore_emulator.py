"""The Tablestore emulator, driven through the real ``tablestore`` SDK over HTTP."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import tablestore
import tablestore.protobuf.table_store_pb2 as pb
from tablestore import (
    INF_MAX,
    INF_MIN,
    BatchGetRowRequest,
    BatchWriteRowRequest,
    CapacityUnit,
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    DeleteRowItem,
    Direction,
    LogicalOperator,
    OTSServiceError,
    PutRowItem,
    ReservedThroughput,
    ReturnType,
    Row,
    RowExistenceExpectation,
    SingleColumnCondition,
    TableInBatchGetRowItem,
    TableInBatchWriteRowItem,
    TableMeta,
    TableOptions,
    UpdateRowItem,
)
from tablestore.auth import RequestContext, SignV2
from tablestore.credentials import Credentials
from tablestore.protocol import OTSProtocol
from tablestore.retry import DefaultRetryPolicy

from tablestore_emulator import TablestoreEmulator
from tests.fixtures.tablestore import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TEST_INSTANCE, make_client

pytestmark = pytest.mark.emulator

RUNS_PK = [("instance_id", "STRING"), ("run_id", "STRING")]
NO_CU = ReservedThroughput(CapacityUnit(0, 0))
MB = 1024 * 1024


def _create(client, name="runs", pk=RUNS_PK, options=None):
    client.create_table(TableMeta(name, pk), options or TableOptions(), NO_CU)


def _run_pk(instance_id, run_id):
    return [("instance_id", instance_id), ("run_id", run_id)]


def _error(excinfo):
    exc = excinfo.value
    return exc.get_http_status(), exc.get_error_code(), exc.get_error_message()


@pytest.fixture
def client(tablestore_emulator):
    return make_client(tablestore_emulator)


@pytest.fixture
def runs(client):
    _create(client)
    return client


# ------------------------------------------------------------------------------------------ tables


def test_create_and_describe_table(client):
    """CreateTable keeps the key schema and table options, and DescribeTable returns them."""
    _create(client, options=TableOptions(time_to_live=86400 * 30, max_version=2))
    described = client.describe_table("runs")
    assert described.table_meta.table_name == "runs"
    assert described.table_meta.schema_of_primary_key == RUNS_PK
    assert described.table_options.time_to_live == 86400 * 30
    assert described.table_options.max_version == 2


def test_list_table(client):
    """ListTable names every table of the instance."""
    _create(client, "runs")
    _create(client, "events", [("event_id", "STRING")])
    assert sorted(client.list_table()) == ["events", "runs"]


def test_delete_table(runs):
    """DeleteTable removes the table; describing it afterwards is OTSObjectNotExist (404)."""
    runs.delete_table("runs")
    assert runs.list_table() == ()
    with pytest.raises(OTSServiceError) as excinfo:
        runs.describe_table("runs")
    assert _error(excinfo) == (404, "OTSObjectNotExist", "Requested table does not exist.")


def test_create_existing_table_is_object_already_exist(runs):
    """Creating a table twice is OTSObjectAlreadyExist (409)."""
    with pytest.raises(OTSServiceError) as excinfo:
        _create(runs)
    assert _error(excinfo) == (409, "OTSObjectAlreadyExist", "Requested table already exists.")


def test_row_operation_on_missing_table_is_object_not_exist(client):
    """A row write to a table that does not exist is OTSObjectNotExist (404)."""
    with pytest.raises(OTSServiceError) as excinfo:
        client.put_row("nope", Row(_run_pk("i", "r"), [("a", 1)]))
    assert _error(excinfo)[:2] == (404, "OTSObjectNotExist")


def test_update_table_changes_time_to_live(runs):
    """UpdateTable changes the time to live and answers the new table options."""
    response = runs.update_table("runs", TableOptions(time_to_live=86400 * 7, max_version=1))
    assert response.table_options.time_to_live == 86400 * 7
    assert runs.describe_table("runs").table_options.time_to_live == 86400 * 7


# ------------------------------------------------------------------------------------------ rows


def test_put_row_then_get_row_round_trips_every_type(runs):
    """Every attribute type written by PutRow reads back unchanged through GetRow."""
    attrs = [("s", "héllo"), ("i", -42), ("d", 2.5), ("b", False), ("bin", bytearray(b"\x00\xff"))]
    runs.put_row("runs", Row(_run_pk("i-1", "r-1"), attrs))
    _, row, _ = runs.get_row("runs", _run_pk("i-1", "r-1"), max_version=1)
    assert row.primary_key == _run_pk("i-1", "r-1")
    assert sorted((n, v) for n, v, _ in row.attribute_columns) == sorted(attrs)


def test_get_row_of_missing_row_is_none(runs):
    """GetRow of an absent row answers no row."""
    _, row, _ = runs.get_row("runs", _run_pk("i-1", "none"), max_version=1)
    assert row is None


def test_get_row_returns_only_columns_to_get(runs):
    """GetRow with columns_to_get returns only those attribute columns."""
    runs.put_row("runs", Row(_run_pk("i", "r"), [("a", 1), ("b", 2), ("c", 3)]))
    _, row, _ = runs.get_row("runs", _run_pk("i", "r"), columns_to_get=["b"], max_version=1)
    assert [(n, v) for n, v, _ in row.attribute_columns] == [("b", 2)]


def test_binary_and_integer_primary_keys(client):
    """Tables keyed by INTEGER and BINARY columns store and find their rows."""
    _create(client, "bin", [("k", "BINARY"), ("n", "INTEGER")])
    client.put_row("bin", Row([("k", bytearray(b"\x01\x02")), ("n", 7)], [("v", "x")]))
    _, row, _ = client.get_row("bin", [("k", bytearray(b"\x01\x02")), ("n", 7)], max_version=1)
    assert row.primary_key == [("k", bytearray(b"\x01\x02")), ("n", 7)]


def test_put_row_expect_not_exist_on_existing_row_fails(runs):
    """A second PutRow with EXPECT_NOT_EXIST (event de-duplication) is OTSConditionCheckFail (403)."""
    pk = _run_pk("i", "event-1")
    runs.put_row("runs", Row(pk, [("seen", True)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST))
    with pytest.raises(OTSServiceError) as excinfo:
        runs.put_row("runs", Row(pk, [("seen", True)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST))
    assert _error(excinfo) == (403, "OTSConditionCheckFail", "Condition check failed.")


def test_update_row_expect_exist_on_missing_row_fails(runs):
    """UpdateRow with EXPECT_EXIST on an absent row is OTSConditionCheckFail and writes nothing."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.update_row("runs", Row(_run_pk("i", "r"), {"put": [("a", 1)]}),
                        Condition(RowExistenceExpectation.EXPECT_EXIST))
    assert _error(excinfo)[:2] == (403, "OTSConditionCheckFail")
    assert runs.get_row("runs", _run_pk("i", "r"), max_version=1)[1] is None


def test_single_column_condition_guards_a_write(runs):
    """A single-column condition lets the write through only when the column matches."""
    pk = _run_pk("i", "r")
    runs.put_row("runs", Row(pk, [("status", "RUNNING")]))
    running = Condition(RowExistenceExpectation.EXPECT_EXIST,
                        SingleColumnCondition("status", "RUNNING", ComparatorType.EQUAL))
    runs.update_row("runs", Row(pk, {"put": [("status", "DONE")]}), running)
    with pytest.raises(OTSServiceError) as excinfo:
        runs.update_row("runs", Row(pk, {"put": [("status", "FAILED")]}), running)
    assert _error(excinfo)[:2] == (403, "OTSConditionCheckFail")
    assert runs.get_row("runs", pk, max_version=1)[1].attribute_columns[0][1] == "DONE"


def test_composite_condition_with_pass_if_missing_writes_an_outcome_once(runs):
    """An outcome column written under "missing, or not yet final" is written once, then refused."""
    pk = _run_pk("i", "r")
    runs.put_row("runs", Row(pk, [("status", "RUNNING")]))
    guard = CompositeColumnCondition(LogicalOperator.AND)
    guard.add_sub_condition(SingleColumnCondition("outcome_X", "FINAL", ComparatorType.NOT_EQUAL,
                                                  pass_if_missing=True))
    guard.add_sub_condition(SingleColumnCondition("status", "RUNNING", ComparatorType.EQUAL,
                                                  pass_if_missing=False))
    condition = Condition(RowExistenceExpectation.EXPECT_EXIST, guard)
    runs.update_row("runs", Row(pk, {"put": [("outcome_X", "FINAL")]}), condition)
    with pytest.raises(OTSServiceError) as excinfo:
        runs.update_row("runs", Row(pk, {"put": [("outcome_X", "FINAL")]}), condition)
    assert _error(excinfo)[:2] == (403, "OTSConditionCheckFail")


def test_update_row_puts_and_deletes_all_versions(runs):
    """UpdateRow adds and replaces columns and removes a column with delete_all."""
    pk = _run_pk("i", "r")
    runs.put_row("runs", Row(pk, [("a", 1), ("b", 2)]))
    runs.update_row("runs", Row(pk, {"put": [("a", 10), ("c", "new")], "delete_all": ["b"]}),
                    Condition(RowExistenceExpectation.EXPECT_EXIST))
    _, row, _ = runs.get_row("runs", pk, max_version=1)
    assert [(n, v) for n, v, _ in row.attribute_columns] == [("a", 10), ("c", "new")]


def test_update_row_deletes_one_version(client):
    """UpdateRow 'delete' removes exactly the version with the given timestamp."""
    _create(client, "versions", [("k", "STRING")], TableOptions(max_version=3))
    now = int(time.time() * 1000)
    client.put_row("versions", Row([("k", "x")], [("v", "old", now - 2000)]))
    client.update_row("versions", Row([("k", "x")], {"put": [("v", "new", now - 1000)]}), Condition("IGNORE"))
    client.update_row("versions", Row([("k", "x")], {"delete": [("v", None, now - 1000)]}), Condition("IGNORE"))
    _, row, _ = client.get_row("versions", [("k", "x")], max_version=3)
    assert row.attribute_columns == [("v", "old", now - 2000)]


def test_delete_row(runs):
    """DeleteRow removes the row; EXPECT_EXIST on the now absent row fails."""
    pk = _run_pk("i", "r")
    runs.put_row("runs", Row(pk, [("a", 1)]))
    runs.delete_row("runs", Row(pk), Condition(RowExistenceExpectation.EXPECT_EXIST))
    assert runs.get_row("runs", pk, max_version=1)[1] is None
    with pytest.raises(OTSServiceError) as excinfo:
        runs.delete_row("runs", Row(pk), Condition(RowExistenceExpectation.EXPECT_EXIST))
    assert _error(excinfo)[:2] == (403, "OTSConditionCheckFail")


def test_return_type_rt_pk_returns_the_primary_key(runs):
    """PutRow with ReturnType.RT_PK answers the written row's primary key."""
    _, returned = runs.put_row("runs", Row(_run_pk("i", "r"), [("a", 1)]), return_type=ReturnType.RT_PK)
    assert returned.primary_key == _run_pk("i", "r")


# ------------------------------------------------------------------------------------------ ranges


def _seed_runs(client, instance_id, count):
    for i in range(count):
        client.put_row("runs", Row(_run_pk(instance_id, f"2024-01-01T00:00:{i:02d}"), [("n", i)]))


def test_get_range_forward_pages_with_next_start_primary_key(runs):
    """GetRange FORWARD with a limit pages through all rows in key order via next_start_primary_key."""
    _seed_runs(runs, "i-1", 5)
    _seed_runs(runs, "i-2", 2)
    start, end = _run_pk("i-1", INF_MIN), _run_pk("i-1", INF_MAX)
    seen = []
    pages = 0
    while start is not None:
        _, start, rows, _ = runs.get_range("runs", Direction.FORWARD, start, end, limit=2, max_version=1)
        seen += [row.attribute_columns[0][1] for row in rows]
        pages += 1
    assert seen == [0, 1, 2, 3, 4]
    assert pages == 3


def test_get_range_backward_limit_one_returns_the_latest_run(runs):
    """GetRange BACKWARD from INF_MAX with limit 1 returns the greatest key and says more rows remain."""
    _seed_runs(runs, "i-1", 3)
    _seed_runs(runs, "i-2", 1)
    _, next_pk, rows, _ = runs.get_range("runs", Direction.BACKWARD, _run_pk("i-1", INF_MAX),
                                         _run_pk("i-1", INF_MIN), limit=1, max_version=1)
    assert [r.primary_key for r in rows] == [_run_pk("i-1", "2024-01-01T00:00:02")]
    assert next_pk == _run_pk("i-1", "2024-01-01T00:00:01")


def test_get_range_rows_decode_with_the_pure_python_decoder(tablestore_emulator, runs):
    """Range answers decode alike with the SDK's native and pure-Python PlainBuffer readers."""
    _seed_runs(runs, "i-1", 3)
    python_client = make_client(tablestore_emulator, enable_native=False)
    _, _, rows, _ = python_client.get_range("runs", Direction.FORWARD, _run_pk(INF_MIN, INF_MIN),
                                            _run_pk(INF_MAX, INF_MAX), max_version=1)
    assert [r.attribute_columns[0][1] for r in rows] == [0, 1, 2]


def test_get_range_stops_at_5000_rows_with_a_next_start_key(tablestore_emulator, runs):
    """A GetRange page holds at most 5000 rows; the rest is reached through next_start_primary_key."""
    from tablestore_emulator.state import CellChange
    from tablestore_emulator.state import Condition as DomainCondition
    for i in range(5003):      # seeded straight into the backend: the subject here is the read
        tablestore_emulator.backend.put_row("runs", _run_pk("i", f"{i:05d}"), [CellChange("n", value=i)],
                                            DomainCondition())
    _, next_pk, rows, _ = runs.get_range("runs", Direction.FORWARD, _run_pk(INF_MIN, INF_MIN),
                                         _run_pk(INF_MAX, INF_MAX), max_version=1)
    assert len(rows) == 5000
    assert next_pk == _run_pk("i", "05000")


def test_get_range_limit_over_5000_is_parameter_invalid(runs):
    """A GetRange limit above 5000 is OTSParameterInvalid (400)."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.get_range("runs", Direction.FORWARD, _run_pk(INF_MIN, INF_MIN), _run_pk(INF_MAX, INF_MAX),
                       limit=5001, max_version=1)
    assert _error(excinfo)[:2] == (400, "OTSParameterInvalid")


# ------------------------------------------------------------------------------------------ batches


def test_batch_write_row_reports_per_row_results(runs):
    """BatchWriteRow applies each row on its own and reports a failed condition for that row only."""
    runs.put_row("runs", Row(_run_pk("i", "exists"), [("a", 1)]))
    request = BatchWriteRowRequest()
    request.add(TableInBatchWriteRowItem("runs", [
        PutRowItem(Row(_run_pk("i", "new"), [("a", 1)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST)),
        PutRowItem(Row(_run_pk("i", "exists"), [("a", 2)]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST)),
        UpdateRowItem(Row(_run_pk("i", "exists"), {"put": [("b", 3)]}), Condition("IGNORE")),
        DeleteRowItem(Row(_run_pk("i", "gone")), Condition("IGNORE")),
    ]))
    response = runs.batch_write_row(request)
    assert not response.is_all_succeed()
    put_ok, put_failed = response.get_put()
    assert len(put_ok) == 1
    assert [(f.error_code, f.error_message) for f in put_failed] == [
        ("OTSConditionCheckFail", "Condition check failed.")]
    assert len(response.get_update()[0]) == 1 and len(response.get_delete()[0]) == 1
    _, row, _ = runs.get_row("runs", _run_pk("i", "exists"), max_version=1)
    assert [(n, v) for n, v, _ in row.attribute_columns] == [("a", 1), ("b", 3)]


def test_batch_write_row_over_200_rows_is_parameter_invalid(runs):
    """A BatchWriteRow of 201 rows is refused as a whole with OTSParameterInvalid (400)."""
    request = BatchWriteRowRequest()
    request.add(TableInBatchWriteRowItem("runs", [
        PutRowItem(Row(_run_pk("i", str(i)), [("a", i)]), Condition("IGNORE")) for i in range(201)]))
    with pytest.raises(OTSServiceError) as excinfo:
        runs.batch_write_row(request)
    assert _error(excinfo) == (400, "OTSParameterInvalid", "Rows count exceeds the upper limit: 200.")


def test_batch_get_row_reports_missing_rows_and_missing_tables(runs):
    """BatchGetRow answers found rows, absent rows (no row) and rows of a missing table (per-row error)."""
    runs.put_row("runs", Row(_run_pk("i", "a"), [("n", 1)]))
    request = BatchGetRowRequest()
    request.add(TableInBatchGetRowItem("runs", [_run_pk("i", "a"), _run_pk("i", "b")], max_version=1))
    request.add(TableInBatchGetRowItem("nope", [_run_pk("i", "a")], max_version=1))
    response = runs.batch_get_row(request)
    found, absent = response.get_result_by_table("runs")
    assert found.is_ok and found.row.attribute_columns[0][:2] == ("n", 1)
    assert absent.is_ok and absent.row is None
    [missing] = response.get_result_by_table("nope")
    assert (missing.is_ok, missing.error_code) == (False, "OTSObjectNotExist")
    assert not response.is_all_succeed()


def test_batch_get_row_over_100_rows_is_parameter_invalid(runs):
    """A BatchGetRow of 101 rows is OTSParameterInvalid (400)."""
    request = BatchGetRowRequest()
    request.add(TableInBatchGetRowItem("runs", [_run_pk("i", str(i)) for i in range(101)], max_version=1))
    with pytest.raises(OTSServiceError) as excinfo:
        runs.batch_get_row(request)
    assert _error(excinfo) == (400, "OTSParameterInvalid", "Rows count exceeds the upper limit: 100.")


# ------------------------------------------------------------------------------------------ limits


def test_attribute_over_2_mb_is_parameter_invalid(runs):
    """A string attribute one byte over 2 MB is OTSParameterInvalid (400)."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.put_row("runs", Row(_run_pk("i", "r"), [("big", "x" * (2 * MB + 1))]))
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "OTSParameterInvalid")
    assert "big" in message and "2097152" in message


def test_attribute_of_exactly_2_mb_is_accepted(runs):
    """A string attribute of exactly 2 MB is stored."""
    runs.put_row("runs", Row(_run_pk("i", "r"), [("big", "x" * (2 * MB))]))
    _, row, _ = runs.get_row("runs", _run_pk("i", "r"), max_version=1)
    assert len(row.attribute_columns[0][1]) == 2 * MB


def test_primary_key_string_over_1_kb_is_parameter_invalid(runs):
    """A primary-key string over 1 KB is OTSParameterInvalid (400)."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.put_row("runs", Row(_run_pk("i" * 1025, "r"), [("a", 1)]))
    assert _error(excinfo) == (400, "OTSParameterInvalid", "The length of primary key column: 'instance_id' "
                               "exceeded the MaxLength:1024 with CurrentLength:1025.")


def test_more_than_1024_columns_is_parameter_invalid(runs):
    """A row write of 1025 columns is OTSParameterInvalid (400)."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.put_row("runs", Row(_run_pk("i", "r"), [(f"c{i}", i) for i in range(1025)]))
    assert _error(excinfo)[:2] == (400, "OTSParameterInvalid")


def test_request_body_over_the_limit_is_request_body_too_large(runs):
    """A request body over the service's limit is OTSRequestBodyTooLarge (413)."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.put_row("runs", Row(_run_pk("i", "r"), [(f"c{i}", "x" * (2 * MB)) for i in range(3)]))
    assert _error(excinfo)[:2] == (413, "OTSRequestBodyTooLarge")


def test_wrong_primary_key_schema_is_invalid_pk(runs):
    """A primary key that does not match the table's schema is OTSInvalidPK (400)."""
    with pytest.raises(OTSServiceError) as excinfo:
        runs.get_row("runs", [("instance_id", "i")], max_version=1)
    assert _error(excinfo) == (400, "OTSInvalidPK", "Validate PK size fail. Input: 1, Meta: 2.")


# ------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize("override", [
    {"access_key_secret": "wrong"},
    {"access_key_id": "LTAI-unknown"},
    {"instance_name": "other-instance"},
])
def test_wrong_credentials_are_refused(tablestore_emulator, override):
    """A wrong secret, AccessKey ID or instance name is refused with OTSAuthFailed (403)."""
    client = make_client(tablestore_emulator, **override)
    with pytest.raises(OTSServiceError) as excinfo:
        client.list_table()
    assert _error(excinfo)[:2] == (403, "OTSAuthFailed")


def test_content_md5_mismatch_is_refused(tablestore_emulator):
    """A body that does not match x-ots-contentmd5 is refused with OTSAuthFailed (403)."""
    import urllib3

    protocol = OTSProtocol(TEST_INSTANCE, "utf8", logging.getLogger("test"))
    context = RequestContext(Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET))
    query, headers, body = protocol.make_request("ListTable", SignV2("utf8"), context)
    response = urllib3.PoolManager().request("POST", tablestore_emulator.endpoint + query,
                                             body=body + b"\x00", headers=headers, timeout=5)
    error = pb.Error()
    error.ParseFromString(response.data)
    assert (response.status, error.code) == (403, "OTSAuthFailed")
    assert error.message == "Mismatch between MD5 value of request body and x-ots-contentmd5 in header."


def test_sts_token_and_v4_signature_are_accepted(tablestore_emulator):
    """Requests carrying an STS token, or signed with signature V4, are served."""
    assert make_client(tablestore_emulator, sts_token="STS.token").list_table() == ()
    assert make_client(tablestore_emulator, region="cn-hangzhou").list_table() == ()


# ------------------------------------------------------------------------------------------ TTL


def test_rows_past_time_to_live_are_not_returned(tablestore_emulator, client):
    """Rows whose cells are older than the table's time to live are neither read nor ranged."""
    _create(client, options=TableOptions(time_to_live=86400))
    client.put_row("runs", Row(_run_pk("i", "r"), [("a", 1)]))
    tablestore_emulator.advance_clock(86400 + 1)
    assert client.get_row("runs", _run_pk("i", "r"), max_version=1)[1] is None
    _, _, rows, _ = client.get_range("runs", Direction.FORWARD, _run_pk(INF_MIN, INF_MIN),
                                     _run_pk(INF_MAX, INF_MAX), max_version=1)
    assert rows == []


# ------------------------------------------------------------------------------------------ faults


def test_injected_server_busy_is_retried_by_the_default_policy(tablestore_emulator, runs):
    """Two injected OTSServerBusy answers are retried by DefaultRetryPolicy and the write lands."""
    tablestore_emulator.inject_errors("PutRow", code="OTSServerBusy", status=503, times=2)
    retrying = make_client(tablestore_emulator, retry_policy=DefaultRetryPolicy())
    retrying.put_row("runs", Row(_run_pk("i", "r"), [("a", 1)]))
    assert tablestore_emulator.request_count("PutRow") == 3
    assert runs.get_row("runs", _run_pk("i", "r"), max_version=1)[1] is not None


def test_injected_error_reaches_a_client_without_retries(tablestore_emulator, runs):
    """An injected error is answered as the service would answer it."""
    tablestore_emulator.inject_errors("GetRow", code="OTSServerBusy", status=503)
    with pytest.raises(OTSServiceError) as excinfo:
        runs.get_row("runs", _run_pk("i", "r"), max_version=1)
    assert _error(excinfo) == (503, "OTSServerBusy", "Server is busy.")
    assert runs.get_row("runs", _run_pk("i", "r"), max_version=1)[1] is None


# ------------------------------------------------------------------------------------------ CLI


def _start_cli(*args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "tablestore_emulator", "--port", "0",
                             "--access-key-id", TEST_ACCESS_KEY_ID, "--access-key-secret", TEST_ACCESS_KEY_SECRET,
                             "--instance", TEST_INSTANCE, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on http://127.0.0.1:"), line
    return proc, line[len("listening on "):]


def _stop_cli(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def _cli_client(endpoint):
    from tablestore.retry import NoRetryPolicy
    return tablestore.OTSClient(endpoint, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TEST_INSTANCE,
                                socket_timeout=5, retry_policy=NoRetryPolicy())


def test_cli_serves_on_port_0_and_stops_on_sigterm():
    """The CLI prints its endpoint first, serves the SDK, and exits 0 on SIGTERM."""
    proc, endpoint = _start_cli()
    try:
        assert _cli_client(endpoint).list_table() == ()
    finally:
        _stop_cli(proc)


def test_cli_data_file_persists_tables_across_restart(tmp_path):
    """Tables and rows written to a --data emulator are there after a restart."""
    data = str(tmp_path / "ots.json")
    proc, endpoint = _start_cli("--data", data)
    try:
        client = _cli_client(endpoint)
        _create(client)
        client.put_row("runs", Row(_run_pk("i", "r"), [("bin", bytearray(b"\x00\x01")), ("d", 0.5)]))
    finally:
        _stop_cli(proc)
    proc, endpoint = _start_cli("--data", data)
    try:
        _, row, _ = _cli_client(endpoint).get_row("runs", _run_pk("i", "r"), max_version=1)
        assert [(n, v) for n, v, _ in row.attribute_columns] == [("bin", bytearray(b"\x00\x01")), ("d", 0.5)]
    finally:
        _stop_cli(proc)


def test_in_process_emulator_persists_across_restart(tmp_path):
    """TablestoreEmulator(data_file=...) reloads what an earlier instance wrote."""
    data = str(tmp_path / "ots.json")
    kwargs = dict(access_key_id=TEST_ACCESS_KEY_ID, access_key_secret=TEST_ACCESS_KEY_SECRET,
                  instance=TEST_INSTANCE, data_file=data)
    with TablestoreEmulator(**kwargs) as emu:
        _create(make_client(emu), "events", [("event_id", "STRING")])
    with TablestoreEmulator(**kwargs) as emu:
        assert make_client(emu).list_table() == ("events",)
