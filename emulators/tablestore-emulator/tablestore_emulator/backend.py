"""State and query logic of the emulated Tablestore instance: tables, rows, versions, conditions, TTL,
limits. Knows nothing about protobuf, PlainBuffer or HTTP; every refusal is an :class:`OTSError`
carrying the service's HTTP status, error code and message.

Values: STRING ``str``, BINARY ``bytes``, INTEGER ``int``, DOUBLE ``float``, BOOLEAN ``bool``.
Cell timestamps (versions) are milliseconds since the epoch, as on the service.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
import base64
import tempfile
import threading
import time
from dataclasses import dataclass, field

from .plainbuffer import INF_MAX, INF_MIN

# ----------------------------------------------------------------------------------------- limits

MAX_PK_COLUMNS = 4
MAX_PK_STRING_LENGTH = 1024                 # bytes, STRING and BINARY key columns
MAX_ATTR_VALUE_LENGTH = 2 * 1024 * 1024     # bytes, STRING and BINARY attribute cells
MAX_COLUMN_NAME_LENGTH = 255
MAX_COLUMNS_PER_WRITE = 1024
MAX_ROW_WRITE_SIZE = 4 * 1024 * 1024        # PutRow / UpdateRow data size
MAX_BATCH_WRITE_ROWS = 200
MAX_BATCH_WRITE_SIZE = 4 * 1024 * 1024
MAX_BATCH_GET_ROWS = 100
MAX_RANGE_LIMIT = 5000
MAX_RANGE_ROWS = 5000                       # rows per GetRange page
MAX_RANGE_BYTES = 4 * 1024 * 1024           # data per GetRange page
MAX_TABLES = 64                             # default per-instance table quota
MIN_TTL_SECONDS = 86400
CU_UNIT_BYTES = 4096

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")

PK_TYPES = ("INTEGER", "STRING", "BINARY")


class OTSError(Exception):
    """A refusal exactly as the service words it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def param_invalid(message: str) -> OTSError:
    return OTSError(400, "OTSParameterInvalid", message)


def table_not_exist() -> OTSError:
    return OTSError(404, "OTSObjectNotExist", "Requested table does not exist.")


def condition_failed() -> OTSError:
    return OTSError(403, "OTSConditionCheckFail", "Condition check failed.")


# ----------------------------------------------------------------------------------------- requests


@dataclass
class CellChange:
    """One cell of a row change: a put (value set), or a delete of one version / all versions."""

    name: str
    op: str = "put"            # "put" | "delete_one" | "delete_all" | "increment"
    value: object = None
    timestamp: int | None = None


@dataclass
class SingleColumnCondition:
    column: str
    comparator: str            # EQUAL NOT_EQUAL GREATER_THAN GREATER_EQUAL LESS_THAN LESS_EQUAL EXIST NOT_EXIST
    value: object = None
    pass_if_missing: bool = True
    latest_version_only: bool = True


@dataclass
class CompositeColumnCondition:
    operator: str              # NOT | AND | OR
    conditions: list = field(default_factory=list)


@dataclass
class Condition:
    row_existence: str = "IGNORE"    # IGNORE | EXPECT_EXIST | EXPECT_NOT_EXIST
    column_condition: object = None  # SingleColumnCondition | CompositeColumnCondition | None


@dataclass
class ReadOptions:
    columns_to_get: list[str] = field(default_factory=list)
    max_versions: int | None = 1
    start_time: int | None = None     # inclusive, ms
    end_time: int | None = None       # exclusive, ms
    specific_time: int | None = None
    column_filter: object = None


@dataclass
class RowResult:
    """A row as read: the primary key and attribute cells ``(name, value, timestamp)``, sorted by name,
    newest version first."""

    primary_key: list[tuple[str, object]]
    attributes: list[tuple[str, object, int]]


@dataclass
class Consumed:
    read: int = 0
    write: int = 0


@dataclass
class WriteResult:
    consumed: Consumed
    primary_key: list[tuple[str, object]] | None = None   # set when return_type RT_PK was asked


@dataclass
class WriteRowRequest:
    """One row of a BatchWriteRow: ``kind`` is PUT, UPDATE or DELETE."""

    kind: str
    primary_key: list[tuple[str, object]]
    cells: list[CellChange] = field(default_factory=list)
    condition: Condition = field(default_factory=Condition)
    return_pk: bool = False


@dataclass
class BatchItemResult:
    ok: bool
    error: OTSError | None = None
    consumed: Consumed | None = None
    row: RowResult | None = None
    primary_key: list[tuple[str, object]] | None = None


# ----------------------------------------------------------------------------------------- state


@dataclass
class TableMeta:
    name: str
    primary_key: list[tuple[str, str]]                # (name, type[, option]) types: INTEGER STRING BINARY
    defined_columns: list[tuple[str, str]] = field(default_factory=list)
    time_to_live: int = -1
    max_versions: int = 1
    max_time_deviation: int = 86400
    allow_update: bool = True
    created_at: int = 0                               # seconds


@dataclass
class StoredRow:
    primary_key: list[tuple[str, object]]
    columns: dict[str, list[tuple[int, object]]] = field(default_factory=dict)   # newest first


class Table:
    def __init__(self, meta: TableMeta) -> None:
        self.meta = meta
        self.rows: dict[tuple, StoredRow] = {}
        self.keys: list[tuple] = []          # sorted

    def put(self, key: tuple, row: StoredRow) -> None:
        if key not in self.rows:
            bisect.insort(self.keys, key)
        self.rows[key] = row

    def remove(self, key: tuple) -> None:
        if key in self.rows:
            del self.rows[key]
            i = bisect.bisect_left(self.keys, key)
            del self.keys[i]


def _key_part(value: object) -> tuple:
    """Order of one primary-key column: INF_MIN < every value < INF_MAX; strings by UTF-8 bytes."""
    if value is INF_MIN:
        return (0,)
    if value is INF_MAX:
        return (2,)
    if isinstance(value, str):
        return (1, value.encode("utf-8"))
    return (1, value)


def _key(primary_key) -> tuple:
    return tuple(_key_part(v) for _, v in primary_key)


def _type_of(value: object) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, (bytes, bytearray)):
        return "BINARY"
    return "UNKNOWN"


def _value_size(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, bool):
        return 1
    return 8


def _cu(size: int) -> int:
    return max(1, math.ceil(size / CU_UNIT_BYTES))


# ----------------------------------------------------------------------------------------- backend


class Backend:
    """One Tablestore instance. Thread-safe; optionally persisted to a JSON file after each write."""

    def __init__(self, data_file: str | None = None, clock=time.time) -> None:
        self._lock = threading.RLock()
        self._tables: dict[str, Table] = {}
        self._data_file = data_file
        self._clock = clock
        self.clock_offset = 0.0
        if data_file and os.path.exists(data_file):
            self._load(data_file)

    # ---- time

    def now(self) -> float:
        return self._clock() + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # ---- tables

    def reset(self) -> None:
        with self._lock:
            self._tables.clear()
            self._save()

    def create_table(self, meta: TableMeta) -> None:
        with self._lock:
            self._validate_table_meta(meta)
            if meta.name in self._tables:
                raise OTSError(409, "OTSObjectAlreadyExist", "Requested table already exists.")
            if len(self._tables) >= MAX_TABLES:
                raise OTSError(403, "OTSQuotaExhausted", "Number of tables exceeded the quota.")
            meta.created_at = int(self.now())
            self._tables[meta.name] = Table(meta)
            self._save()

    def _validate_table_meta(self, meta: TableMeta) -> None:
        if not _TABLE_NAME.match(meta.name or ""):
            raise param_invalid(f"Invalid table name: '{meta.name}'.")
        if not 1 <= len(meta.primary_key) <= MAX_PK_COLUMNS:
            raise param_invalid(f"The number of primary key columns must be in range: [1, {MAX_PK_COLUMNS}].")
        seen = set()
        for pk in meta.primary_key:
            name, ptype = pk[0], pk[1]
            if not _COLUMN_NAME.match(name or ""):
                raise param_invalid(f"Invalid column name: '{name}'.")
            if name in seen:
                raise param_invalid(f"Duplicated primary key name: '{name}'.")
            seen.add(name)
            if ptype not in PK_TYPES:
                raise param_invalid(f"{ptype} is an invalid type for the primary key.")
        self._validate_options(meta.time_to_live, meta.max_versions, meta.max_time_deviation)

    @staticmethod
    def _validate_options(ttl, max_versions, deviation) -> None:
        if ttl is not None and (ttl == 0 or ttl < -1):
            raise param_invalid("TimeToLive cannot be 0 or less than -1.")
        if ttl is not None and 0 < ttl < MIN_TTL_SECONDS:
            raise param_invalid(f"Time to live must be -1 or not less than {MIN_TTL_SECONDS} seconds.")
        if max_versions is not None and max_versions <= 0:
            raise param_invalid("The maximum versions cannot be less than or equal to 0.")
        if deviation is not None and deviation < 0:
            raise param_invalid("The maximum deviation must be in range [0, INT64_MAX/1000000].")

    def describe_table(self, name: str) -> TableMeta:
        with self._lock:
            return self._table(name).meta

    def list_tables(self) -> list[str]:
        with self._lock:
            return sorted(self._tables)

    def delete_table(self, name: str) -> None:
        with self._lock:
            self._table(name)
            del self._tables[name]
            self._save()

    def update_table(self, name: str, time_to_live=None, max_versions=None, max_time_deviation=None,
                     allow_update=None) -> TableMeta:
        with self._lock:
            meta = self._table(name).meta
            if time_to_live is None and max_versions is None and max_time_deviation is None \
                    and allow_update is None:
                raise param_invalid("No parameter is specified in table options.")
            self._validate_options(time_to_live, max_versions, max_time_deviation)
            if time_to_live is not None:
                meta.time_to_live = time_to_live
            if max_versions is not None:
                meta.max_versions = max_versions
            if max_time_deviation is not None:
                meta.max_time_deviation = max_time_deviation
            if allow_update is not None:
                meta.allow_update = allow_update
            self._save()
            return meta

    def _table(self, name: str) -> Table:
        table = self._tables.get(name)
        if table is None:
            raise table_not_exist()
        return table

    # ---- validation of keys and cells

    def _check_pk(self, table: Table, primary_key, allow_inf: bool = False) -> None:
        schema = table.meta.primary_key
        if len(primary_key) != len(schema):
            raise OTSError(400, "OTSInvalidPK",
                           f"Validate PK size fail. Input: {len(primary_key)}, Meta: {len(schema)}.")
        for (name, value), pk in zip(primary_key, schema):
            if name != pk[0]:
                raise OTSError(400, "OTSInvalidPK", f"Validate PK name fail. Input: {name}, Meta: {pk[0]}.")
            if value is INF_MIN or value is INF_MAX:
                if not allow_inf:
                    raise param_invalid("INF_MIN or INF_MAX is not allowed in a row key.")
                continue
            vtype = _type_of(value)
            if vtype != pk[1]:
                raise OTSError(400, "OTSInvalidPK",
                               f"Validate PK type fail. Input: VT_{vtype}, Meta: VT_{pk[1]}.")
            if vtype in ("STRING", "BINARY") and _value_size(value) > MAX_PK_STRING_LENGTH:
                raise param_invalid(
                    f"The length of primary key column: '{name}' exceeded the MaxLength:{MAX_PK_STRING_LENGTH} "
                    f"with CurrentLength:{_value_size(value)}.")

    def _check_cells(self, table: Table, cells: list[CellChange], api: str) -> int:
        """Validate the cells of a write; returns their data size."""
        if len(cells) > MAX_COLUMNS_PER_WRITE:
            raise param_invalid(
                f"The number of attribute columns exceeds the limit, limit count:{MAX_COLUMNS_PER_WRITE}, "
                f"column count:{len(cells)}.")
        pk_names = {pk[0] for pk in table.meta.primary_key}
        now = self.now_ms()
        meta = table.meta
        low = now - meta.max_time_deviation * 1000
        if meta.time_to_live > 0:
            low = max(low, now - meta.time_to_live * 1000)
        high = now + meta.max_time_deviation * 1000
        size = 0
        for cell in cells:
            if not cell.name or len(cell.name) > MAX_COLUMN_NAME_LENGTH:
                raise param_invalid(f"Invalid column name: '{cell.name}'.")
            if cell.name in pk_names:
                raise param_invalid(f"Duplicated attribute column name with primary key column: {cell.name}.")
            size += len(cell.name.encode("utf-8"))
            if cell.op == "put" or cell.op == "increment":
                if cell.value is None:
                    raise param_invalid(f"Invalid cell: {cell.name}. Reason: missing value.")
                if isinstance(cell.value, float) and (math.isnan(cell.value) or math.isinf(cell.value)):
                    raise param_invalid("NaN can't be set to double value." if math.isnan(cell.value)
                                        else "Infinity can't be set to double value.")
                vsize = _value_size(cell.value)
                if isinstance(cell.value, (str, bytes, bytearray)) and vsize > MAX_ATTR_VALUE_LENGTH:
                    raise param_invalid(
                        f"The length of attribute column: '{cell.name}' exceeded the "
                        f"MaxLength:{MAX_ATTR_VALUE_LENGTH} with CurrentLength:{vsize}.")
                size += vsize
                if cell.timestamp is not None:
                    if cell.timestamp < 0:
                        raise param_invalid("Timestamp must be in range [0, INT64_MAX/1000).")
                    if not low <= cell.timestamp < high:
                        raise param_invalid(f"Invalid timestamp. Cell:{cell.name}.")
                    size += 8
            elif cell.op == "delete_one":
                if cell.timestamp is None:
                    raise param_invalid("Timestamp must be given when type is DELETE_ONE_VERSION.")
            elif cell.op == "delete_all":
                if cell.timestamp is not None:
                    raise param_invalid("Timestamp cannot be given when type is DELETE_ALL_VERSION.")
            else:
                raise param_invalid(f"Invalid op type of cell: {cell.op}.")
            if api == "PutRow" and cell.op != "put":
                raise param_invalid(f"OpType cannot be given for column name:{cell.name} in PutRow.")
        return size

    @staticmethod
    def _pk_size(primary_key) -> int:
        return sum(len(n.encode("utf-8")) + _value_size(v) for n, v in primary_key)

    # ---- visibility (TTL, versions)

    def _visible_columns(self, table: Table, row: StoredRow) -> dict[str, list[tuple[int, object]]]:
        ttl = table.meta.time_to_live
        if ttl is None or ttl < 0:
            return {name: versions for name, versions in row.columns.items() if versions}
        oldest = self.now_ms() - ttl * 1000
        out = {}
        for name, versions in row.columns.items():
            alive = [(ts, v) for ts, v in versions if ts > oldest]
            if alive:
                out[name] = alive
        return out

    def _live_row(self, table: Table, key: tuple):
        """The stored row and its visible columns, or (None, None) when absent or expired."""
        row = table.rows.get(key)
        if row is None:
            return None, None
        visible = self._visible_columns(table, row)
        if row.columns and not visible:
            return None, None         # every cell is past the table's time to live
        return row, visible

    # ---- conditions

    def _check_condition(self, condition: Condition, exists: bool, visible) -> None:
        expectation = condition.row_existence
        if expectation == "EXPECT_EXIST" and not exists:
            raise condition_failed()
        if expectation == "EXPECT_NOT_EXIST" and exists:
            raise condition_failed()
        if condition.column_condition is not None:
            if not evaluate_filter(condition.column_condition, visible or {}):
                raise condition_failed()

    # ---- single-row writes

    def put_row(self, table_name: str, primary_key, cells: list[CellChange], condition: Condition,
                return_pk: bool = False) -> WriteResult:
        with self._lock:
            table = self._table(table_name)
            self._check_pk(table, primary_key)
            size = self._check_cells(table, cells, "PutRow") + self._pk_size(primary_key)
            if size > MAX_ROW_WRITE_SIZE:
                raise param_invalid(f"The total data size of PutRow request exceeds the limit, limit size: "
                                    f"{MAX_ROW_WRITE_SIZE}, data size: {size}.")
            result = self._apply_put(table, primary_key, cells, condition, return_pk, size)
            self._save()
            return result

    def update_row(self, table_name: str, primary_key, cells: list[CellChange], condition: Condition,
                   return_pk: bool = False) -> WriteResult:
        with self._lock:
            table = self._table(table_name)
            self._check_pk(table, primary_key)
            if not cells:
                raise param_invalid("Invalid update row request: missing cells in request.")
            size = self._check_cells(table, cells, "UpdateRow") + self._pk_size(primary_key)
            if size > MAX_ROW_WRITE_SIZE:
                raise param_invalid(f"The total data size of UpdateRow request exceeds the limit, limit size: "
                                    f"{MAX_ROW_WRITE_SIZE}, data size: {size}.")
            result = self._apply_update(table, primary_key, cells, condition, return_pk, size)
            self._save()
            return result

    def delete_row(self, table_name: str, primary_key, condition: Condition,
                   return_pk: bool = False) -> WriteResult:
        with self._lock:
            table = self._table(table_name)
            self._check_pk(table, primary_key)
            result = self._apply_delete(table, primary_key, condition, return_pk)
            self._save()
            return result

    def _read_cost(self, condition: Condition) -> int:
        return 1 if condition.row_existence != "IGNORE" or condition.column_condition is not None else 0

    def _apply_put(self, table, primary_key, cells, condition, return_pk, size) -> WriteResult:
        key = _key(primary_key)
        row, visible = self._live_row(table, key)
        self._check_condition(condition, row is not None, visible)
        now = self.now_ms()
        new = StoredRow(primary_key=[(n, v) for n, v in primary_key])
        for cell in cells:
            ts = cell.timestamp if cell.timestamp is not None else now
            self._add_version(new, cell.name, ts, cell.value, table.meta.max_versions)
        table.put(key, new)
        return WriteResult(Consumed(self._read_cost(condition), _cu(size)),
                           list(primary_key) if return_pk else None)

    def _apply_update(self, table, primary_key, cells, condition, return_pk, size) -> WriteResult:
        key = _key(primary_key)
        row, visible = self._live_row(table, key)
        self._check_condition(condition, row is not None, visible)
        now = self.now_ms()
        # work on a copy so that a refused cell leaves the stored row untouched
        row = StoredRow(primary_key=[(n, v) for n, v in primary_key],
                        columns={name: list(versions) for name, versions in (visible or {}).items()})
        for cell in cells:
            if cell.op == "put":
                ts = cell.timestamp if cell.timestamp is not None else now
                self._add_version(row, cell.name, ts, cell.value, table.meta.max_versions)
            elif cell.op == "increment":
                current = row.columns.get(cell.name)
                base = current[0][1] if current else 0
                if not isinstance(base, int) or isinstance(base, bool) or not isinstance(cell.value, int):
                    raise param_invalid(f"Invalid increment column: {cell.name}.")
                self._add_version(row, cell.name, now, base + cell.value, table.meta.max_versions)
            elif cell.op == "delete_one":
                versions = row.columns.get(cell.name, [])
                row.columns[cell.name] = [(ts, v) for ts, v in versions if ts != cell.timestamp]
                if not row.columns[cell.name]:
                    del row.columns[cell.name]
            elif cell.op == "delete_all":
                row.columns.pop(cell.name, None)
        if row.columns:
            table.put(key, row)
        else:
            table.remove(key)         # a row whose last attribute column is deleted no longer exists
        return WriteResult(Consumed(self._read_cost(condition), _cu(size)),
                           list(primary_key) if return_pk else None)

    def _apply_delete(self, table, primary_key, condition, return_pk) -> WriteResult:
        key = _key(primary_key)
        row, visible = self._live_row(table, key)
        self._check_condition(condition, row is not None, visible)
        table.remove(key)
        return WriteResult(Consumed(self._read_cost(condition), 1), list(primary_key) if return_pk else None)

    @staticmethod
    def _add_version(row: StoredRow, name: str, ts: int, value: object, max_versions: int) -> None:
        versions = [(t, v) for t, v in row.columns.get(name, []) if t != ts]
        versions.append((ts, bytes(value) if isinstance(value, bytearray) else value))
        versions.sort(key=lambda tv: tv[0], reverse=True)
        row.columns[name] = versions[:max(1, max_versions)]

    # ---- reads

    def _project(self, table: Table, row: StoredRow, visible, options: ReadOptions) -> RowResult | None:
        if options.column_filter is not None and not evaluate_filter(options.column_filter, visible):
            return None
        wanted = set(options.columns_to_get or [])
        pk_names = {pk[0] for pk in table.meta.primary_key}
        attributes = []
        for name in sorted(visible):
            if wanted and name not in wanted:
                continue
            versions = visible[name]
            if options.specific_time is not None:
                versions = [(ts, v) for ts, v in versions if ts == options.specific_time]
            if options.start_time is not None:
                versions = [(ts, v) for ts, v in versions if ts >= options.start_time]
            if options.end_time is not None:
                versions = [(ts, v) for ts, v in versions if ts < options.end_time]
            if options.max_versions:
                versions = versions[:options.max_versions]
            for ts, value in versions:
                attributes.append((name, value, ts))
        if not attributes and row.columns and not (wanted & pk_names):
            return None
        return RowResult(primary_key=list(row.primary_key), attributes=attributes)

    @staticmethod
    def _check_read_options(options: ReadOptions) -> None:
        if options.max_versions is None and options.specific_time is None and options.start_time is None:
            raise param_invalid("No version condition is specified while querying row.")
        if options.max_versions is not None and options.max_versions <= 0:
            raise param_invalid(f"Invalid max versions: {options.max_versions}. "
                                f"Reason: Max versions must be positive.")

    def get_row(self, table_name: str, primary_key, options: ReadOptions) -> tuple[Consumed, RowResult | None]:
        with self._lock:
            table = self._table(table_name)
            self._check_pk(table, primary_key)
            self._check_read_options(options)
            row, visible = self._live_row(table, _key(primary_key))
            if row is None:
                return Consumed(1, 0), None
            result = self._project(table, row, visible, options)
            return Consumed(_cu(_row_size(result)) if result else 1, 0), result

    def get_range(self, table_name: str, direction: str, start_pk, end_pk, limit: int | None,
                  options: ReadOptions) -> tuple[Consumed, list[RowResult], list | None]:
        """Rows from ``start_pk`` (inclusive) to ``end_pk`` (exclusive); returns the next start key
        when rows remain beyond ``limit`` or a page limit."""
        with self._lock:
            table = self._table(table_name)
            self._check_pk(table, start_pk, allow_inf=True)
            self._check_pk(table, end_pk, allow_inf=True)
            self._check_read_options(options)
            if limit is not None:
                if limit <= 0:
                    raise param_invalid("The limit must be greater than 0.")
                if limit > MAX_RANGE_LIMIT:
                    raise param_invalid(f"Invalid max scan size: {limit}.")
            start, end = _key(start_pk), _key(end_pk)
            if direction == "FORWARD":
                if not start < end:
                    raise param_invalid("Begin key must less than end key in FORWARD.")
                lo = bisect.bisect_left(table.keys, start)
                hi = bisect.bisect_left(table.keys, end)
                positions = range(lo, hi)
            else:
                if not start > end:
                    raise param_invalid("Begin key must more than end key in BACKWARD.")
                lo = bisect.bisect_right(table.keys, end)
                hi = bisect.bisect_right(table.keys, start)
                positions = range(hi - 1, lo - 1, -1)
            # walk the sorted keys in place: a page costs its own rows, not the size of the table
            candidates = (table.keys[i] for i in positions)
            rows: list[RowResult] = []
            size = 0
            next_pk = None
            max_rows = min(limit or MAX_RANGE_ROWS, MAX_RANGE_ROWS)
            for key in candidates:
                if len(rows) >= max_rows or size >= MAX_RANGE_BYTES:
                    next_pk = list(table.rows[key].primary_key)
                    break
                row, visible = self._live_row(table, key)
                if row is None:
                    continue
                result = self._project(table, row, visible, options)
                if result is not None:
                    rows.append(result)
                    size += _row_size(result)
            return Consumed(_cu(size), 0), rows, next_pk

    # ---- batches

    def batch_get_row(self, tables: list[tuple[str, list, ReadOptions]]) -> list[list[BatchItemResult]]:
        with self._lock:
            count = sum(len(pks) for _, pks, _ in tables)
            if count == 0:
                raise param_invalid("No row specified in the request of BatchGetRow.")
            if count > MAX_BATCH_GET_ROWS:
                raise param_invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_GET_ROWS}.")
            _no_duplicate_tables([name for name, _, _ in tables])
            out = []
            for name, pks, options in tables:
                results = []
                for pk in pks:
                    try:
                        consumed, row = self.get_row(name, pk, options)
                        results.append(BatchItemResult(ok=True, consumed=consumed, row=row))
                    except OTSError as exc:
                        results.append(BatchItemResult(ok=False, error=exc))
                out.append(results)
            return out

    def batch_write_row(self, tables: list[tuple[str, list[WriteRowRequest]]]) -> list[list[BatchItemResult]]:
        with self._lock:
            count = sum(len(rows) for _, rows in tables)
            if count == 0:
                raise param_invalid("No row is specified in BatchWriteRow.")
            if count > MAX_BATCH_WRITE_ROWS:
                raise param_invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_WRITE_ROWS}.")
            _no_duplicate_tables([name for name, _ in tables])
            total = 0
            for _, rows in tables:
                for item in rows:
                    total += self._pk_size(item.primary_key) + sum(
                        len(c.name) + (_value_size(c.value) if c.value is not None else 0) for c in item.cells)
            if total > MAX_BATCH_WRITE_SIZE:
                raise param_invalid(f"The total data size of BatchWriteRow request exceeds the limit, "
                                    f"limit size: {MAX_BATCH_WRITE_SIZE}, data size: {total}.")
            out = []
            for name, rows in tables:
                results = []
                for item in rows:
                    try:
                        table = self._table(name)
                        self._check_pk(table, item.primary_key)
                        if item.kind == "PUT":
                            size = self._check_cells(table, item.cells, "PutRow") + self._pk_size(item.primary_key)
                            res = self._apply_put(table, item.primary_key, item.cells, item.condition,
                                                  item.return_pk, size)
                        elif item.kind == "UPDATE":
                            if not item.cells:
                                raise param_invalid("Invalid update row request: missing cells in request.")
                            size = self._check_cells(table, item.cells, "UpdateRow") + self._pk_size(item.primary_key)
                            res = self._apply_update(table, item.primary_key, item.cells, item.condition,
                                                     item.return_pk, size)
                        elif item.kind == "DELETE":
                            res = self._apply_delete(table, item.primary_key, item.condition, item.return_pk)
                        else:
                            raise param_invalid("The modify type is invalid.")
                        results.append(BatchItemResult(ok=True, consumed=res.consumed, primary_key=res.primary_key))
                    except OTSError as exc:
                        results.append(BatchItemResult(ok=False, error=exc))
                out.append(results)
            self._save()
            return out

    # ---- persistence

    def _save(self) -> None:
        if not self._data_file:
            return
        data = {"format": "tablestore-emulator/1", "tables": []}
        for table in self._tables.values():
            meta = table.meta
            data["tables"].append({
                "name": meta.name,
                "primary_key": [list(pk) for pk in meta.primary_key],
                "defined_columns": [list(c) for c in meta.defined_columns],
                "time_to_live": meta.time_to_live,
                "max_versions": meta.max_versions,
                "max_time_deviation": meta.max_time_deviation,
                "allow_update": meta.allow_update,
                "created_at": meta.created_at,
                "rows": [
                    {"pk": [[n, _dump(v)] for n, v in row.primary_key],
                     "columns": {name: [[ts, _dump(v)] for ts, v in versions]
                                 for name, versions in row.columns.items()}}
                    for row in (table.rows[k] for k in table.keys)
                ],
            })
        directory = os.path.dirname(os.path.abspath(self._data_file))
        fd, tmp = tempfile.mkstemp(prefix=".tablestore-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self._data_file)

    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if not text.strip():
            return
        data = json.loads(text)
        for item in data.get("tables", []):
            meta = TableMeta(
                name=item["name"], primary_key=[tuple(pk) for pk in item["primary_key"]],
                defined_columns=[tuple(c) for c in item.get("defined_columns", [])],
                time_to_live=item["time_to_live"], max_versions=item["max_versions"],
                max_time_deviation=item.get("max_time_deviation", 86400),
                allow_update=item.get("allow_update", True), created_at=item.get("created_at", 0))
            table = Table(meta)
            for r in item["rows"]:
                pk = [(n, _restore(v)) for n, v in r["pk"]]
                row = StoredRow(primary_key=pk, columns={
                    name: [(ts, _restore(v)) for ts, v in versions] for name, versions in r["columns"].items()})
                table.put(_key(pk), row)
            self._tables[meta.name] = table

    def save(self) -> None:
        with self._lock:
            self._save()


def _no_duplicate_tables(names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise param_invalid(f"Duplicated table name: '{name}'.")
        seen.add(name)


def _row_size(row: RowResult | None) -> int:
    if row is None:
        return 0
    size = sum(len(n.encode("utf-8")) + _value_size(v) for n, v in row.primary_key)
    return size + sum(len(n.encode("utf-8")) + _value_size(v) + 8 for n, v, _ in row.attributes)


def _dump(value: object) -> list:
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", value]
    if isinstance(value, float):
        return ["double", value]
    if isinstance(value, str):
        return ["string", value]
    return ["binary", base64.b64encode(bytes(value)).decode("ascii")]


def _restore(item: list) -> object:
    kind, value = item
    if kind == "binary":
        return base64.b64decode(value)
    if kind == "double":
        return float(value)
    return value


# ----------------------------------------------------------------------------------------- filters


def _compare(op: str, actual: object, expected: object) -> bool:
    a_type, e_type = _type_of(actual), _type_of(expected)
    if a_type != e_type:
        return False      # values of different types never match (not even NOT_EQUAL)
    if a_type == "STRING":
        actual, expected = actual.encode("utf-8"), expected.encode("utf-8")
    if op == "EQUAL":
        return actual == expected
    if op == "NOT_EQUAL":
        return actual != expected
    if op == "GREATER_THAN":
        return actual > expected
    if op == "GREATER_EQUAL":
        return actual >= expected
    if op == "LESS_THAN":
        return actual < expected
    if op == "LESS_EQUAL":
        return actual <= expected
    raise param_invalid(f"Invalid relation operator: {op}.")


def evaluate_filter(condition, visible: dict[str, list[tuple[int, object]]]) -> bool:
    """Whether a row with the given visible columns passes a column condition."""
    if isinstance(condition, CompositeColumnCondition):
        subs = condition.conditions
        if condition.operator == "NOT":
            if len(subs) != 1:
                raise param_invalid("Invalid NOT operator: the number of sub-filters must be 1.")
            return not evaluate_filter(subs[0], visible)
        if len(subs) < 2:
            raise param_invalid("Invalid AND/OR operator: the number of sub-filters must be 2.")
        if condition.operator == "AND":
            return all(evaluate_filter(s, visible) for s in subs)
        if condition.operator == "OR":
            return any(evaluate_filter(s, visible) for s in subs)
        raise param_invalid(f"Invalid type of filter: {condition.operator}.")
    versions = visible.get(condition.column)
    if condition.comparator == "EXIST":
        return bool(versions)
    if condition.comparator == "NOT_EXIST":
        return not versions
    if not versions:
        return condition.pass_if_missing
    if condition.latest_version_only:
        return _compare(condition.comparator, versions[0][1], condition.value)
    return any(_compare(condition.comparator, v, condition.value) for _, v in versions)
