"""What the store's requests cost in Tablestore capacity units (CU): a wrapper around an `OTSClient` that
counts, per request, the CU the response reports (`consumed.read` / `consumed.write`) and, independently, the
CU computed from the request and response sizes by the documented rule (docs/store-cost.md cites each page):

- one CU is 4 KB, rounded up per request, at least one ("Read and write throughput",
  https://www.alibabacloud.com/help/doc-detail/27284.html);
- a row's size is its primary-key columns' names and values plus its attribute columns' names and values
  (STRING: UTF-8 bytes, INTEGER and DOUBLE 8, BOOLEAN 1, BINARY its length: "Storage usage",
  https://www.alibabacloud.com/help/en/tablestore/storage-usage);
- a write costs ceil((primary key + attribute columns written) / 4 KB) write CU; a row existence or column
  condition reads the row: + ceil(primary key / 4 KB) read CU; a failed condition costs 1 write CU and 1 read
  CU (PutRow, "服务能力单元消耗", https://help.aliyun.com/document_detail/27306.html);
- a read costs ceil(data read / 4 KB) read CU, 1 for a row that does not exist; GetRange sums its rows.

Nothing here changes what the client does: every call goes through, errors are re-raised. `phase` (per
thread) tags the requests with what the caller was doing (the benchmark sets it to the function it runs).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CU_BYTES = 4096


def value_size(value: Any) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 8
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return 0  # INF_MIN / INF_MAX markers of a range


def cells_size(cells: Iterable[Any]) -> int:
    """Names and values of (name, value, ...) cells."""
    return sum(len(str(cell[0]).encode("utf-8")) + value_size(cell[1] if len(cell) > 1 else None) for cell in cells)


def row_size(row: Any) -> int:
    if row is None:
        return 0
    return cells_size(row.primary_key or []) + cells_size(row.attribute_columns or [])


def units(size: int) -> int:
    return max(1, math.ceil(size / CU_BYTES))


def _written_size(row: Any) -> int:
    columns = row.attribute_columns
    if isinstance(columns, dict):  # UpdateRow: {"put": [...], "increment": [...], "delete_all": [names]}
        size = 0
        for kind, cells in columns.items():
            for cell in cells:
                if isinstance(cell, (tuple, list)):
                    size += len(str(cell[0]).encode("utf-8")) + (value_size(cell[1]) if len(cell) > 1
                                                                  and kind.lower() != "delete" else 0)
                else:
                    size += len(str(cell).encode("utf-8"))
        return cells_size(row.primary_key) + size
    return row_size(row)


def _conditional(condition: Any) -> bool:
    if condition is None:
        return False
    expectation = getattr(condition, "row_existence_expectation", "IGNORE")
    return str(expectation) != "IGNORE" or getattr(condition, "column_condition", None) is not None


@dataclass
class Request:
    phase: str
    operation: str
    read_cu: int          # as the response reported it (0 for a failed request: its answer carries none)
    write_cu: int
    computed_read_cu: int  # by the documented rule, from the sizes sent and received
    computed_write_cu: int
    bytes_sent: int
    bytes_received: int
    failed: bool = False


@dataclass
class Meter:
    requests: list[Request] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def phase(self) -> str:
        return getattr(self._local, "phase", "")

    @phase.setter
    def phase(self, value: str) -> None:
        self._local.phase = value

    def add(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class MeteredClient:
    """An `OTSClient` that records what each request costs in `meter` (see the module docstring)."""

    def __init__(self, client: Any, meter: Meter | None = None, phase_of: Any = None):
        self._client = client
        self.meter = meter if meter is not None else Meter()
        self._phase_of = phase_of  # optional callable: the phase of the current request (else meter.phase)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _record(self, operation: str, reported: Any, computed: tuple[int, int], sent: int, received: int,
                failed: bool = False) -> None:
        phase = self._phase_of() if self._phase_of is not None else self.meter.phase
        read = int(getattr(reported, "read", 0) or 0) if reported is not None else 0
        write = int(getattr(reported, "write", 0) or 0) if reported is not None else 0
        self.meter.add(Request(phase, operation, read, write, computed[0], computed[1], sent, received, failed))

    def get_row(self, table_name: str, primary_key: Any, *args: Any, **kwargs: Any) -> Any:
        answer = self._client.get_row(table_name, primary_key, *args, **kwargs)
        consumed, row = answer[0], answer[1]
        size = row_size(row)
        self._record("GetRow", consumed, (units(size), 0), cells_size(primary_key), size)
        return answer

    def get_range(self, table_name: str, direction: Any, start: Any, end: Any, *args: Any, **kwargs: Any) -> Any:
        answer = self._client.get_range(table_name, direction, start, end, *args, **kwargs)
        consumed, rows = answer[0], answer[2]
        size = sum(row_size(row) for row in rows)
        self._record("GetRange", consumed, (units(size), 0), cells_size(start) + cells_size(end), size)
        return answer

    def batch_get_row(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        answer = self._client.batch_get_row(request, *args, **kwargs)
        read = reported = received = 0
        for items in getattr(answer, "items", {}).values():
            for item in items:
                size = row_size(getattr(item, "row", None))
                received += size
                read += units(size)
                reported += int(getattr(getattr(item, "consumed", None), "read", 0) or 0)
        self._record("BatchGetRow", type("CU", (), {"read": reported, "write": 0})(), (read, 0), 0, received)
        return answer

    def _write(self, operation: str, method: Any, table_name: str, row: Any, condition: Any, *args: Any,
               **kwargs: Any) -> Any:
        size = _written_size(row)
        read = units(cells_size(row.primary_key)) if _conditional(condition) else 0
        try:
            answer = method(table_name, row, condition, *args, **kwargs)
        except Exception as error:
            if getattr(error, "code", "") == "OTSConditionCheckFail":
                self._record(operation, None, (1, 1), size, 0, failed=True)
            raise
        self._record(operation, answer[0], (read, units(size)), size, 0)
        return answer

    def put_row(self, table_name: str, row: Any, condition: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._write("PutRow", self._client.put_row, table_name, row, condition, *args, **kwargs)

    def update_row(self, table_name: str, row: Any, condition: Any, *args: Any, **kwargs: Any) -> Any:
        return self._write("UpdateRow", self._client.update_row, table_name, row, condition, *args, **kwargs)
