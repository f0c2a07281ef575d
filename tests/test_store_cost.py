"""What the Tablestore store's requests cost in capacity units (docs/store-cost.md): the emulator answers the
documented CU, the meter computes the same from the sizes, and collecting an outcome reads no more than it
writes. Through the real SDK against the emulator."""

from __future__ import annotations

import pytest

from precheck.adapters.tablestore import BoundedRetryPolicy, TablestoreResultStore, create_tables
from precheck.adapters.tablestore.metering import Meter, MeteredClient
from precheck.adapters.tablestore.sdk import ots
from precheck.models import ItemStatus, Outcome, Run
from tests.fixtures.tablestore import make_client

pytestmark = pytest.mark.emulator

RUN = "0000000000001-a"


@pytest.fixture
def metered(tablestore_emulator):
    client = make_client(tablestore_emulator, retry_policy=BoundedRetryPolicy(base_delay=0.01))
    create_tables(client)
    return MeteredClient(client, Meter())


def pk() -> list:
    return [("instance_id", "i"), ("run_id", "r")]  # 11 + 1 + 6 + 1 = 19 bytes


def test_a_1_kb_row_costs_one_write_cu_and_reading_it_one_read_cu(metered):
    """1 KB written: 1 write CU; read back: 1 read CU (the answer's and the rule's)."""
    metered.put_row("precheck_runs", ots.Row(pk(), [("run", "x" * (1024 - 19 - 3))]),
                    ots.Condition(ots.RowExistenceExpectation.IGNORE))
    metered.get_row("precheck_runs", pk(), max_version=1)
    put, get = metered.meter.requests
    assert (put.read_cu, put.write_cu, put.computed_read_cu, put.computed_write_cu) == (0, 1, 0, 1)
    assert (get.read_cu, get.computed_read_cu, get.bytes_received) == (1, 1, 1024)


def test_a_row_of_4_kb_and_1_byte_costs_two(metered):
    """4,097 bytes: 2 write CU to write, 2 read CU to read (rounded up per 4 KB)."""
    metered.put_row("precheck_runs", ots.Row(pk(), [("run", "x" * (4096 - 19 - 3 + 1))]),
                    ots.Condition(ots.RowExistenceExpectation.IGNORE))
    metered.get_row("precheck_runs", pk(), max_version=1)
    put, get = metered.meter.requests
    assert (put.write_cu, put.computed_write_cu) == (2, 2)
    assert (get.read_cu, get.computed_read_cu) == (2, 2)


def test_a_conditional_update_reads_one_cu_and_a_failed_one_costs_one_of_each(metered):
    """EXPECT_EXIST + a column condition: 1 read CU beside its write CU; a failed condition: 1 + 1 (computed:
    the service's error answer carries no CU)."""
    metered.put_row("precheck_runs", ots.Row(pk(), [("run", "x"), ("n_left", 2)]),
                    ots.Condition(ots.RowExistenceExpectation.IGNORE))
    condition = ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST,
                              ots.SingleColumnCondition("n_left", 1, ots.ComparatorType.GREATER_THAN,
                                                        pass_if_missing=False))
    update = ots.Row(pk(), {"put": [("o_a", "y" * 5000)], "increment": [("n_left", -1)]})
    metered.update_row("precheck_runs", update, condition)
    with pytest.raises(Exception, match="OTSConditionCheckFail"):
        metered.update_row("precheck_runs", update, condition)  # n_left is 1 now
    _, ok, failed = metered.meter.requests
    assert (ok.read_cu, ok.write_cu, ok.computed_read_cu, ok.computed_write_cu) == (1, 2, 1, 2)
    assert failed.failed and (failed.computed_read_cu, failed.computed_write_cu) == (1, 1)


def test_collecting_an_outcome_reads_no_more_than_it_writes(metered):
    """Each outcome is one conditional UpdateRow (the last one two): no GetRow, reads <= writes, computed and
    reported."""
    store = TablestoreResultStore(metered)
    store.create_run(Run(run_id=RUN, instance_id="i", items=["a", "b", "c"], created_at=1.0, deadline=100.0))
    for item in ("a", "b", "c"):
        before = len(metered.meter.requests)
        answer = store.record_outcome("i", RUN, Outcome(item=item, status=ItemStatus.PASSED, message="ok" * 300))
        assert answer.stored and answer.complete is (item == "c")
        mine = metered.meter.requests[before:]
        assert {request.operation for request in mine} == {"UpdateRow"}
        assert len(mine) == (2 if item == "c" else 1)
        assert sum(r.read_cu for r in mine) <= sum(r.write_cu for r in mine)
        assert sum(r.computed_read_cu for r in mine) <= sum(r.computed_write_cu for r in mine)



def test_the_emulator_refuses_a_return_type_it_does_not_implement():
    """RT_AFTER_MODIFY (a counter's value returned by the write) is refused with OTSParameterInvalid, not
    answered without the value (this SDK cannot ask for it, so the request is built by hand)."""
    import tablestore.protobuf.table_store_pb2 as pb

    from tablestore_emulator.wire import WireProtocol

    request = pb.UpdateRowRequest()
    request.return_content.return_type = pb.RT_AFTER_MODIFY
    with pytest.raises(Exception, match="RT_AFTER_MODIFY is not supported by the emulator"):
        WireProtocol._return_pk(request)
    request.return_content.return_type = pb.RT_PK
    assert WireProtocol._return_pk(request) is True
