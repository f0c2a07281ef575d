"""The protobuf side of the protocol: decode a request body for an API, call the backend, encode the
answer body. Uses the message classes generated for the SDK (``tablestore.protobuf``); rows inside them
go through :mod:`tablestore_emulator.plainbuffer`.
"""

from __future__ import annotations

import tablestore.protobuf.table_store_filter_pb2 as filter_pb
import tablestore.protobuf.table_store_pb2 as pb
from google.protobuf.message import DecodeError

from . import plainbuffer
from .backend import Backend
from .plainbuffer import PlainBufferError
from .state import (
    CellChange,
    CompositeColumnCondition,
    Condition,
    Consumed,
    OTSError,
    ReadOptions,
    RowResult,
    SingleColumnCondition,
    WriteRowRequest,
    param_invalid,
)
from .wire_tables import TableWire, unsupported

_EXPECTATIONS = {pb.IGNORE: "IGNORE", pb.EXPECT_EXIST: "EXPECT_EXIST", pb.EXPECT_NOT_EXIST: "EXPECT_NOT_EXIST"}
_COMPARATORS = {filter_pb.CT_EQUAL: "EQUAL", filter_pb.CT_NOT_EQUAL: "NOT_EQUAL",
                filter_pb.CT_GREATER_THAN: "GREATER_THAN", filter_pb.CT_GREATER_EQUAL: "GREATER_EQUAL",
                filter_pb.CT_LESS_THAN: "LESS_THAN", filter_pb.CT_LESS_EQUAL: "LESS_EQUAL",
                filter_pb.CT_EXIST: "EXIST", filter_pb.CT_NOT_EXIST: "NOT_EXIST"}
_OPERATORS = {filter_pb.LO_NOT: "NOT", filter_pb.LO_AND: "AND", filter_pb.LO_OR: "OR"}
_CELL_OPS = {None: "put", plainbuffer.OP_DELETE_ONE_VERSION: "delete_one",
             plainbuffer.OP_DELETE_ALL_VERSION: "delete_all", plainbuffer.OP_INCREMENT: "increment"}
_WRITE_KINDS = {pb.PUT: "PUT", pb.UPDATE: "UPDATE", pb.DELETE: "DELETE"}

SUPPORTED_APIS = ("CreateTable", "DescribeTable", "ListTable", "DeleteTable", "UpdateTable", "CreateIndex",
                  "DropIndex", "PutRow", "UpdateRow", "DeleteRow", "GetRow", "GetRange", "BatchWriteRow",
                  "BatchGetRow")


def refuse_transaction(req) -> None:
    """A row operation inside a local transaction: the emulator starts none (StartLocalTransaction is
    refused as unsupported), so every transaction id is unknown, answered as the service answers an
    unknown one (the SDK's transaction_test.test_invalid_transaction_id expects this error)."""
    if req.HasField("transaction_id"):
        raise param_invalid("TransactionID is invalid.")


def encode_error(code: str, message: str) -> bytes:
    return pb.Error(code=code, message=message).SerializeToString()


class WireProtocol(TableWire):
    """Maps ``POST /<Api>`` bodies onto backend calls."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def handle(self, api: str, body: bytes) -> bytes:
        """Answer body for a request; raises :class:`OTSError` for a refusal."""
        if api not in SUPPORTED_APIS:
            raise param_invalid(f"Unsupported operation: '{api}'.")
        handler = getattr(self, "_" + api)
        try:
            return handler(body)
        except DecodeError as exc:
            raise param_invalid("Parse PBMessage from RawString failed.") from exc
        except PlainBufferError as exc:
            raise param_invalid(str(exc)) from exc

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _parse(message_cls, body: bytes):
        message = message_cls()
        message.ParseFromString(body)
        if not message.IsInitialized():
            raise param_invalid("Cannot deserialize the request data.")
        return message

    @staticmethod
    def _consumed(proto, consumed: Consumed) -> None:
        proto.capacity_unit.read = consumed.read
        proto.capacity_unit.write = consumed.write

    @staticmethod
    def _primary_key(data: bytes):
        row = plainbuffer.decode_row(data)
        if row.cells or row.delete_marker:
            raise param_invalid("Attribute column cannot be given while reading data.")
        if not row.primary_key:
            raise param_invalid("Cell data broken, PK is empty.")
        return row.primary_key

    @staticmethod
    def _encode_result(row: RowResult | None) -> bytes:
        if row is None:
            return b""
        return plainbuffer.encode_row(row.primary_key, _cells(row))

    def _condition(self, proto) -> Condition:
        condition = Condition(row_existence=_EXPECTATIONS.get(proto.row_existence))
        if condition.row_existence is None:
            raise param_invalid(f"Invalid row-existence expectation: {proto.row_existence}.")
        if proto.HasField("column_condition") and proto.column_condition:
            condition.column_condition = self._filter(proto.column_condition)
        return condition

    def _filter(self, data: bytes):
        try:
            flt = filter_pb.Filter()
            flt.ParseFromString(data)
        except DecodeError as exc:
            raise param_invalid("Deserialize filter failed.") from exc
        return self._filter_of_type(flt.type, flt.filter)

    def _filter_of_type(self, ftype: int, data: bytes):
        if ftype == filter_pb.FT_SINGLE_COLUMN_VALUE:
            try:
                single = filter_pb.SingleColumnValueFilter()
                single.ParseFromString(data)
            except DecodeError as exc:
                raise param_invalid("Deserialize relation filter failed.") from exc
            if single.HasField("value_trans_rule"):
                raise param_invalid("Regex column conditions are not supported by the emulator.")
            comparator = _COMPARATORS.get(single.comparator)
            if comparator is None:
                raise param_invalid(f"Invalid relation operator: {single.comparator}.")
            value = None
            if single.column_value:
                value = plainbuffer.decode_column_value(single.column_value)
            return SingleColumnCondition(column=single.column_name, comparator=comparator, value=value,
                                         pass_if_missing=not single.filter_if_missing,
                                         latest_version_only=single.latest_version_only)
        if ftype == filter_pb.FT_COMPOSITE_COLUMN_VALUE:
            try:
                composite = filter_pb.CompositeColumnValueFilter()
                composite.ParseFromString(data)
            except DecodeError as exc:
                raise param_invalid("Deserialize composite filter failed.") from exc
            operator = _OPERATORS.get(composite.combinator)
            if operator is None:
                raise param_invalid(f"Invalid type of filter: {composite.combinator}.")
            return CompositeColumnCondition(
                operator=operator,
                conditions=[self._filter_of_type(sub.type, sub.filter) for sub in composite.sub_filters])
        raise param_invalid(f"Invalid type of filter: {ftype}.")

    def _read_options(self, proto) -> ReadOptions:
        options = ReadOptions(columns_to_get=list(proto.columns_to_get))
        options.max_versions = proto.max_versions if proto.HasField("max_versions") else None
        if proto.HasField("time_range"):
            tr = proto.time_range
            if tr.HasField("specific_time"):
                options.specific_time = tr.specific_time
            if tr.HasField("start_time") != tr.HasField("end_time"):
                raise param_invalid("Start and end time must be given at the same time.")
            if tr.HasField("start_time"):
                options.start_time, options.end_time = tr.start_time, tr.end_time
        if proto.HasField("filter") and proto.filter:
            options.column_filter = self._filter(proto.filter)
        if proto.HasField("start_column"):
            options.start_column = proto.start_column
        if proto.HasField("end_column"):
            options.end_column = proto.end_column
        tokens = proto.token if isinstance(proto, pb.TableInBatchGetRowRequest) else (
            [proto.token] if proto.HasField("token") else [])
        if any(tokens):
            # the wide-row read position: "This parameter is unavailable." (GetRow / TableInBatchGetRowRequest
            # reference, https://alibabacloud.com/help/en/tablestore/developer-reference/tableinbatchgetrowrequest)
            raise unsupported("The wide-row read token")
        return options

    @staticmethod
    def _row_change(data: bytes, kind: str):
        row = plainbuffer.decode_row(data)
        if not row.primary_key:
            raise param_invalid("Cell data broken, PK is empty.")
        if kind == "DELETE":
            if not row.delete_marker:
                raise param_invalid("Invalid request of delete row: missing RowDeleteMarker in request.")
            if row.cells:
                raise param_invalid("Invalid delete row request: unexpected cells in request.")
            return row.primary_key, []
        if row.delete_marker:
            raise param_invalid("Invalid request of put/update row: unexpected RowDeleteMarker in request.")
        cells = []
        for cell in row.cells:
            op = _CELL_OPS.get(cell.op)
            if op is None:
                raise param_invalid(f"Invalid op type of cell: {cell.op}.")
            if op in ("delete_one", "delete_all") and cell.has_value:
                raise param_invalid(
                    "Column value cannot be given when type is DELETE_ONE_VERSION,DELETE_ALL_VERSION.")
            if kind == "PUT" and not cell.has_value:
                raise param_invalid("Invalid request of put row: find cells without values.")
            cells.append(CellChange(name=cell.name, op=op, value=cell.value if cell.has_value else None,
                                    timestamp=cell.timestamp))
        return row.primary_key, cells

    @staticmethod
    def _return_pk(proto) -> bool:
        """Whether the write asked for its primary key back (RT_PK). RT_AFTER_MODIFY (an atomic counter's value
        after the write) is not implemented: refused rather than silently answered without it."""
        if not proto.HasField("return_content"):
            return False
        if proto.return_content.return_type == pb.RT_AFTER_MODIFY:
            raise unsupported("ReturnType RT_AFTER_MODIFY")
        return proto.return_content.return_type == pb.RT_PK

    # ------------------------------------------------------------------ rows

    def _write_answer(self, resp, result) -> bytes:
        """The answer of a single-row write: capacity consumed, and the primary key when asked for."""
        self._consumed(resp.consumed, result.consumed)
        if result.primary_key is not None:
            resp.row = plainbuffer.encode_row(result.primary_key)
        return resp.SerializeToString()

    def _PutRow(self, body: bytes) -> bytes:
        req = self._parse(pb.PutRowRequest, body)
        refuse_transaction(req)
        pk, cells = self._row_change(req.row, "PUT")
        result = self.backend.put_row(req.table_name, pk, cells, self._condition(req.condition),
                                      self._return_pk(req))
        return self._write_answer(pb.PutRowResponse(), result)

    def _UpdateRow(self, body: bytes) -> bytes:
        req = self._parse(pb.UpdateRowRequest, body)
        refuse_transaction(req)
        pk, cells = self._row_change(req.row_change, "UPDATE")
        result = self.backend.update_row(req.table_name, pk, cells, self._condition(req.condition),
                                         self._return_pk(req))
        return self._write_answer(pb.UpdateRowResponse(), result)

    def _DeleteRow(self, body: bytes) -> bytes:
        req = self._parse(pb.DeleteRowRequest, body)
        refuse_transaction(req)
        pk, _ = self._row_change(req.primary_key, "DELETE")
        result = self.backend.delete_row(req.table_name, pk, self._condition(req.condition),
                                         self._return_pk(req))
        return self._write_answer(pb.DeleteRowResponse(), result)

    def _GetRow(self, body: bytes) -> bytes:
        req = self._parse(pb.GetRowRequest, body)
        refuse_transaction(req)
        pk = self._primary_key(req.primary_key)
        consumed, row = self.backend.get_row(req.table_name, pk, self._read_options(req))
        resp = pb.GetRowResponse()
        self._consumed(resp.consumed, consumed)
        resp.row = self._encode_result(row)
        return resp.SerializeToString()

    def _GetRange(self, body: bytes) -> bytes:
        req = self._parse(pb.GetRangeRequest, body)
        refuse_transaction(req)
        direction = "FORWARD" if req.direction == pb.FORWARD else "BACKWARD"
        start = self._primary_key(req.inclusive_start_primary_key)
        end = self._primary_key(req.exclusive_end_primary_key)
        limit = req.limit if req.HasField("limit") else None
        consumed, rows, next_pk = self.backend.get_range(req.table_name, direction, start, end, limit,
                                                         self._read_options(req))
        resp = pb.GetRangeResponse()
        self._consumed(resp.consumed, consumed)
        resp.rows = plainbuffer.encode_rows((row.primary_key, _cells(row)) for row in rows)
        if next_pk is not None:
            resp.next_start_primary_key = plainbuffer.encode_row(next_pk)
        return resp.SerializeToString()

    def _BatchGetRow(self, body: bytes) -> bytes:
        req = self._parse(pb.BatchGetRowRequest, body)
        tables = []
        for item in req.tables:
            pks = [self._primary_key(data) for data in item.primary_key]
            tables.append((item.table_name, pks, self._read_options(item)))
        results = self.backend.batch_get_row(tables)
        resp = pb.BatchGetRowResponse()
        for (name, _, _), rows in zip(tables, results):
            table = resp.tables.add()
            table.table_name = name
            for result in rows:
                out = table.rows.add()
                out.is_ok = result.ok
                if result.ok:
                    self._consumed(out.consumed, result.consumed)
                    out.row = self._encode_result(result.row)
                else:
                    out.error.code = result.error.code
                    out.error.message = result.error.message
        return resp.SerializeToString()

    def _BatchWriteRow(self, body: bytes) -> bytes:
        req = self._parse(pb.BatchWriteRowRequest, body)
        refuse_transaction(req)
        tables = []
        for item in req.tables:
            rows = []
            for row in item.rows:
                kind = _WRITE_KINDS.get(row.type)
                if kind is None:
                    raise param_invalid("The type of row in batch write operation is invalid.")
                pk, cells = self._row_change(row.row_change, kind)
                rows.append(WriteRowRequest(kind=kind, primary_key=pk, cells=cells,
                                            condition=self._condition(row.condition),
                                            return_pk=self._return_pk(row)))
            tables.append((item.table_name, rows))
        results = self.backend.batch_write_row(tables)
        resp = pb.BatchWriteRowResponse()
        for (name, _), rows in zip(tables, results):
            table = resp.tables.add()
            table.table_name = name
            for result in rows:
                out = table.rows.add()
                out.is_ok = result.ok
                if result.ok:
                    self._consumed(out.consumed, result.consumed)
                    if result.primary_key is not None:
                        out.row = plainbuffer.encode_row(result.primary_key)
                else:
                    out.error.code = result.error.code
                    out.error.message = result.error.message
        return resp.SerializeToString()


def _cells(row: RowResult) -> list[plainbuffer.Cell]:
    return [plainbuffer.Cell(name=name, value=value, has_value=True, timestamp=ts)
            for name, value, ts in row.attributes]


__all__ = ["WireProtocol", "encode_error", "SUPPORTED_APIS", "OTSError"]
