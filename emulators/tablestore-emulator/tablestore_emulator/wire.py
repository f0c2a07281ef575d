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
    TableMeta,
    WriteRowRequest,
    param_invalid,
)

_PK_TYPE_NAMES = {pb.INTEGER: "INTEGER", pb.STRING: "STRING", pb.BINARY: "BINARY"}
_PK_TYPE_ENUMS = {v: k for k, v in _PK_TYPE_NAMES.items()}
_DEFINED_TYPE_NAMES = {pb.DCT_INTEGER: "INTEGER", pb.DCT_DOUBLE: "DOUBLE", pb.DCT_BOOLEAN: "BOOLEAN",
                       pb.DCT_STRING: "STRING", pb.DCT_BLOB: "BINARY"}
_DEFINED_TYPE_ENUMS = {v: k for k, v in _DEFINED_TYPE_NAMES.items()}
_EXPECTATIONS = {pb.IGNORE: "IGNORE", pb.EXPECT_EXIST: "EXPECT_EXIST", pb.EXPECT_NOT_EXIST: "EXPECT_NOT_EXIST"}
_COMPARATORS = {filter_pb.CT_EQUAL: "EQUAL", filter_pb.CT_NOT_EQUAL: "NOT_EQUAL",
                filter_pb.CT_GREATER_THAN: "GREATER_THAN", filter_pb.CT_GREATER_EQUAL: "GREATER_EQUAL",
                filter_pb.CT_LESS_THAN: "LESS_THAN", filter_pb.CT_LESS_EQUAL: "LESS_EQUAL",
                filter_pb.CT_EXIST: "EXIST", filter_pb.CT_NOT_EXIST: "NOT_EXIST"}
_OPERATORS = {filter_pb.LO_NOT: "NOT", filter_pb.LO_AND: "AND", filter_pb.LO_OR: "OR"}
_CELL_OPS = {None: "put", plainbuffer.OP_DELETE_ONE_VERSION: "delete_one",
             plainbuffer.OP_DELETE_ALL_VERSION: "delete_all", plainbuffer.OP_INCREMENT: "increment"}
_WRITE_KINDS = {pb.PUT: "PUT", pb.UPDATE: "UPDATE", pb.DELETE: "DELETE"}

SUPPORTED_APIS = ("CreateTable", "DescribeTable", "ListTable", "DeleteTable", "UpdateTable", "PutRow",
                  "UpdateRow", "DeleteRow", "GetRow", "GetRange", "BatchWriteRow", "BatchGetRow")


def encode_error(code: str, message: str) -> bytes:
    return pb.Error(code=code, message=message).SerializeToString()


class WireProtocol:
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
        return proto.HasField("return_content") and proto.return_content.return_type == pb.RT_PK

    # ------------------------------------------------------------------ tables

    def _CreateTable(self, body: bytes) -> bytes:
        req = self._parse(pb.CreateTableRequest, body)
        tm = req.table_meta
        primary_key = []
        for col in tm.primary_key:
            ptype = _PK_TYPE_NAMES.get(col.type)
            if ptype is None:
                raise param_invalid("Invalid column type, only STRING,INTEGER,BINARY is allowed.")
            if col.HasField("option"):
                raise param_invalid("AUTO_INCREMENT primary keys are not supported by the emulator.")
            primary_key.append((col.name, ptype))
        opts = req.table_options
        meta = TableMeta(
            name=tm.table_name, primary_key=primary_key,
            defined_columns=[(c.name, _DEFINED_TYPE_NAMES.get(c.type, "STRING")) for c in tm.defined_column],
            time_to_live=opts.time_to_live if opts.HasField("time_to_live") else -1,
            max_versions=opts.max_versions if opts.HasField("max_versions") else 1,
            max_time_deviation=(opts.deviation_cell_version_in_sec
                                if opts.HasField("deviation_cell_version_in_sec") else 86400),
            allow_update=opts.allow_update if opts.HasField("allow_update") else True)
        self.backend.create_table(meta)
        return pb.CreateTableResponse().SerializeToString()

    def _DescribeTable(self, body: bytes) -> bytes:
        req = self._parse(pb.DescribeTableRequest, body)
        meta = self.backend.describe_table(req.table_name)
        resp = pb.DescribeTableResponse()
        resp.table_meta.table_name = meta.name
        for name, ptype, *_ in meta.primary_key:
            col = resp.table_meta.primary_key.add()
            col.name, col.type = name, _PK_TYPE_ENUMS[ptype]
        for name, ctype in meta.defined_columns:
            col = resp.table_meta.defined_column.add()
            col.name, col.type = name, _DEFINED_TYPE_ENUMS.get(ctype, pb.DCT_STRING)
        details = resp.reserved_throughput_details
        details.capacity_unit.read = 0
        details.capacity_unit.write = 0
        details.last_increase_time = meta.created_at
        self._table_options(resp.table_options, meta)
        return resp.SerializeToString()

    @staticmethod
    def _table_options(proto, meta: TableMeta) -> None:
        proto.time_to_live = meta.time_to_live
        proto.max_versions = meta.max_versions
        proto.deviation_cell_version_in_sec = meta.max_time_deviation
        proto.allow_update = meta.allow_update

    def _ListTable(self, body: bytes) -> bytes:
        self._parse(pb.ListTableRequest, body)
        resp = pb.ListTableResponse()
        resp.table_names.extend(self.backend.list_tables())
        return resp.SerializeToString()

    def _DeleteTable(self, body: bytes) -> bytes:
        req = self._parse(pb.DeleteTableRequest, body)
        self.backend.delete_table(req.table_name)
        return pb.DeleteTableResponse().SerializeToString()

    def _UpdateTable(self, body: bytes) -> bytes:
        req = self._parse(pb.UpdateTableRequest, body)
        kwargs = {}
        if req.HasField("table_options"):
            opts = req.table_options
            if opts.HasField("time_to_live"):
                kwargs["time_to_live"] = opts.time_to_live
            if opts.HasField("max_versions"):
                kwargs["max_versions"] = opts.max_versions
            if opts.HasField("deviation_cell_version_in_sec"):
                kwargs["max_time_deviation"] = opts.deviation_cell_version_in_sec
            if opts.HasField("allow_update"):
                kwargs["allow_update"] = opts.allow_update
        if req.HasField("reserved_throughput") and not kwargs:
            meta = self.backend.describe_table(req.table_name)   # reserved throughput is accepted, ignored
        else:
            meta = self.backend.update_table(req.table_name, **kwargs)
        resp = pb.UpdateTableResponse()
        details = resp.reserved_throughput_details
        details.capacity_unit.read = 0
        details.capacity_unit.write = 0
        details.last_increase_time = meta.created_at
        self._table_options(resp.table_options, meta)
        return resp.SerializeToString()

    # ------------------------------------------------------------------ rows

    def _write_answer(self, resp, result) -> bytes:
        """The answer of a single-row write: capacity consumed, and the primary key when asked for."""
        self._consumed(resp.consumed, result.consumed)
        if result.primary_key is not None:
            resp.row = plainbuffer.encode_row(result.primary_key)
        return resp.SerializeToString()

    def _PutRow(self, body: bytes) -> bytes:
        req = self._parse(pb.PutRowRequest, body)
        pk, cells = self._row_change(req.row, "PUT")
        result = self.backend.put_row(req.table_name, pk, cells, self._condition(req.condition),
                                      self._return_pk(req))
        return self._write_answer(pb.PutRowResponse(), result)

    def _UpdateRow(self, body: bytes) -> bytes:
        req = self._parse(pb.UpdateRowRequest, body)
        pk, cells = self._row_change(req.row_change, "UPDATE")
        result = self.backend.update_row(req.table_name, pk, cells, self._condition(req.condition),
                                         self._return_pk(req))
        return self._write_answer(pb.UpdateRowResponse(), result)

    def _DeleteRow(self, body: bytes) -> bytes:
        req = self._parse(pb.DeleteRowRequest, body)
        pk, _ = self._row_change(req.primary_key, "DELETE")
        result = self.backend.delete_row(req.table_name, pk, self._condition(req.condition),
                                         self._return_pk(req))
        return self._write_answer(pb.DeleteRowResponse(), result)

    def _GetRow(self, body: bytes) -> bytes:
        req = self._parse(pb.GetRowRequest, body)
        pk = self._primary_key(req.primary_key)
        consumed, row = self.backend.get_row(req.table_name, pk, self._read_options(req))
        resp = pb.GetRowResponse()
        self._consumed(resp.consumed, consumed)
        resp.row = self._encode_result(row)
        return resp.SerializeToString()

    def _GetRange(self, body: bytes) -> bytes:
        req = self._parse(pb.GetRangeRequest, body)
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
