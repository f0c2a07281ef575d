"""`TablestoreResultStore`: the `ResultStore` on the three tables of `schema`, outcomes laid out as in `cells`.

Access paths: `latest_run` is ONE GetRange, BACKWARD from (instance, INF_MAX) with limit 1: run ids are
time-ordered, and the outcomes live in the run's row, so the latest run and its outcomes come back in
one request whatever the length of the history. `get_run` is one GetRow. `list_instances` pages the
instances table with GetRange FORWARD. `list_runs` (history, newest first) is GetRange BACKWARD from the page's
cursor; `latest_runs` (the fleet view) is two BatchGetRows for a whole page of instances: their current-run rows,
then the runs they name (the current run and `previous_run_id`, the run its claim replaced).

First write wins, and the collector learns whether the run is complete without reading it: a run's row holds
an empty placeholder cell per item and a count of the items left, and an outcome's write is a conditional
UpdateRow on them (`outcomes`).

One run per instance at a time: the runs table holds, beside an instance's runs, its current-run row
(run_id `CURRENT_ROW`, which sorts before every time-ordered run id, so `latest_run` never meets it while a
run exists; it has no `run` column, so it is never read as a run). `claim_run` is ONE PutRow: EXPECT_NOT_EXIST
for an instance without one, else EXPECT_EXIST plus `SingleColumnCondition(current_run_id == replacing,
pass_if_missing=False)`, Tablestore's optimistic lock: "read column A, then write with the condition A = the
value read; a failed update means another client updated the row first" (conditional update,
https://www.alibabacloud.com/help/en/tablestore/developer-reference/configure-conditional-update-by-using-nodejs-sdk
and https://www.alibabacloud.com/help/doc-detail/35194.html: the row existence condition is checked first, a
column condition compares a column with a constant, and a failed condition leaves the row unchanged). A
condition compares with a constant the client sends, never with the service's clock, so "the current run is
past its deadline" is decided by the service on the run it read, and the condition on its id makes that
decision stick. A failed condition after a retried attempt may be our own first attempt: the run id, unique,
tells.

Errors: see `errors` (bounded retries, then a secret-free `StoreError`). Each request is bounded by the
client's socket timeout (5 s by default).

Credentials rotate (STS): a store given a `Connection` keeps how to build its client and rebuilds it
when `refresh(credentials)` is handed other credentials.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ... import records
from ...models import Instance, Outcome, Run
from ...ports import RunRecord, StoreError
from ..credentials import Credentials
from . import cells
from .config import Connection, TableNames, parse_url
from .errors import guarded
from .marks import TablestoreEndMarks
from .outcomes import PLACEHOLDER, TablestoreOutcomes
from .sdk import OTSServiceError, ots

log = logging.getLogger("precheck.store.tablestore")

#: the run_id key of an instance's current-run row in the runs table: "!" sorts before the digits every run
#: id starts with (`models.new_run_id`)
CURRENT_ROW = "!current"


class TablestoreResultStore(TablestoreOutcomes, TablestoreEndMarks):  # runs and outcomes written: outcomes.py;
    # the runs' "ended" marks: marks.py
    """`ResultStore` on Tablestore (see the module docstring for the access paths).

    Pass `client` (an `OTSClient`) to use it as given; or a `connection`, and the store builds its client
    from `credentials` now (if given) and rebuilds it whenever `refresh(credentials)` hands it new ones.
    """

    def __init__(self, client: Any = None, tables: TableNames = TableNames(), *,
                 connection: Connection | None = None, credentials: Credentials | None = None,
                 clock: Callable[[], float] = time.time):
        if client is None and connection is None:
            raise ValueError("TablestoreResultStore needs a client, or a connection to build one "
                             "(see precheck.adapters.tablestore.parse_url)")
        self.tables = tables
        self.connection = connection
        self._clock = clock
        self._lock = threading.Lock()
        self._client = client
        self._credentials: Credentials | None = None
        if client is None:
            self._use(credentials)

    @classmethod
    def from_url(cls, url: str, *, credentials: Credentials | None = None, instance: str | None = None,
                 endpoint: str | None = None, region: str | None = None, prefix: str | None = None,
                 timeout_s: float | None = None, **options: Any) -> TablestoreResultStore:
        """The store of a `tablestore:` URL (see `parse_url` for it and the keywords); `options` go to the
        constructor. Without credentials the store has no client until `refresh` hands it some."""
        connection, tables = parse_url(url, instance=instance, endpoint=endpoint, region=region, prefix=prefix,
                                       timeout_s=timeout_s)
        return cls(None, tables, connection=connection, credentials=credentials, **options)

    # --- credentials ----------------------------------------------------------------------------------------

    def refresh(self, credentials: Credentials | None) -> None:
        """Take this invocation's STS credentials (they rotate); the client is rebuilt only if they changed.
        None keeps what the store has; a store given its client by the caller keeps it."""
        if self.connection is not None:
            self._use(credentials)

    def _use(self, credentials: Credentials | None) -> None:
        if credentials is None or self.connection is None:
            return
        with self._lock:
            if credentials != self._credentials:
                self._client = self.connection.client(credentials)
                self._credentials = credentials

    @property
    def client(self) -> Any:
        client = self._client
        if client is None:
            raise StoreError("credentials", "no credentials for Tablestore: the function's context has none and "
                                            "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET are not set")
        return client

    def _call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One SDK call; every SDK or network error becomes a StoreError (a failed condition is re-raised
        for the caller to read)."""
        endpoint = self.connection.endpoint if self.connection is not None else None
        return guarded(what, partial(function, *args, **kwargs), tables=self.tables.all(), endpoint=endpoint,
                       credentials=self._credentials)

    # --- instances --------------------------------------------------------------------------------------------

    def save_instance(self, instance: Instance) -> None:
        row = ots.Row([("instance_id", instance.instance_id)], [("instance", instance.model_dump_json())])
        self._call("save_instance", self.client.put_row, self.tables.instances, row,
                   ots.Condition(ots.RowExistenceExpectation.IGNORE))

    def get_instance(self, instance_id: str) -> Instance | None:
        _, row, _ = self._call("get_instance", self.client.get_row, self.tables.instances,
                               [("instance_id", instance_id)], columns_to_get=["instance"], max_version=1)
        columns = cells.columns_of(row)
        return records.read_instance(columns["instance"], instance_id) if "instance" in columns else None

    def list_instances(self, after: str | None, limit: int) -> tuple[list[Instance], str | None]:
        """Instances with ids greater than `after`, in id order; the cursor is the page's last id while
        more remain (as the SQLite store)."""
        limit = max(1, int(limit))
        start: list = [("instance_id", after if after else ots.INF_MIN)]
        end = [("instance_id", ots.INF_MAX)]
        page: list[Instance] = []
        more = False
        while True:
            want = min(limit + 1 - len(page) + (1 if after else 0), 5000)
            _, next_start, rows, _ = self._call("list_instances", self.client.get_range, self.tables.instances,
                                                ots.Direction.FORWARD, start, end, columns_to_get=["instance"],
                                                limit=want, max_version=1)
            for row in rows:
                instance_id = row.primary_key[0][1]
                if after and instance_id <= after:
                    continue
                columns = cells.columns_of(row)
                if "instance" not in columns:
                    continue
                if len(page) == limit:
                    more = True
                    break
                instance = records.read_instance(columns["instance"], instance_id)  # unreadable: logged, left out
                if instance is not None:
                    page.append(instance)
            if more or next_start is None:
                break
            start = next_start
        return page, (page[-1].instance_id if more and page else None)

    # --- runs -------------------------------------------------------------------------------------------------

    def current_run(self, instance_id: str) -> Run | None:
        _, row, _ = self._call("current_run", self.client.get_row, self.tables.runs,
                               self._run_key(instance_id, CURRENT_ROW), columns_to_get=["current"], max_version=1)
        columns = cells.columns_of(row)
        return Run.model_validate_json(columns["current"]) if "current" in columns else None

    def claim_run(self, run: Run, replacing: str | None) -> bool:
        """ONE conditional PutRow of the current-run row (see the module docstring)."""
        # the run it replaces is kept beside it, so `latest_runs` finds an instance's two latest runs in a batch
        row = ots.Row(self._run_key(run.instance_id, CURRENT_ROW),
                      [("current_run_id", run.run_id), ("current", run.model_dump_json()),
                       ("previous_run_id", replacing or "")])
        if replacing is None:
            condition = ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST)
        else:
            condition = ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST,
                                      ots.SingleColumnCondition("current_run_id", replacing, ots.ComparatorType.EQUAL,
                                                                pass_if_missing=False, latest_version_only=True))
        try:
            self._call("claim_run", self.client.put_row, self.tables.runs, row, condition)
            return True
        except OTSServiceError:  # another claim came first, or this is the retry of our own applied claim
            _, stored, _ = self._call("claim_run", self.client.get_row, self.tables.runs,
                                      self._run_key(run.instance_id, CURRENT_ROW), columns_to_get=["current_run_id"],
                                      max_version=1)
            return cells.columns_of(stored).get("current_run_id") == run.run_id

    def get_run(self, instance_id: str, run_id: str) -> RunRecord | None:
        _, row, _ = self._call("get_run", self.client.get_row, self.tables.runs,
                               self._run_key(instance_id, run_id), max_version=1)
        return self._row_to_record(row)

    def latest_run(self, instance_id: str) -> RunRecord | None:
        """ONE GetRange: the row with the greatest (time-ordered) run id, outcomes included."""
        start = [("instance_id", instance_id), ("run_id", ots.INF_MAX)]
        end = [("instance_id", instance_id), ("run_id", ots.INF_MIN)]
        while True:
            _, next_start, rows, _ = self._call("latest_run", self.client.get_range, self.tables.runs,
                                                ots.Direction.BACKWARD, start, end, limit=1, max_version=1)
            if rows or next_start is None:  # the service may answer a page with no rows: go on from its key
                return self._row_to_record(rows[0]) if rows else None
            start = next_start

    def list_runs(self, instance_id: str, before: str | None, limit: int) -> tuple[list[RunRecord], str | None]:
        """Runs older than run `before` (None: from the newest), newest first: GetRange BACKWARD from (instance,
        `before`) (the start is inclusive, so `before` itself is skipped), outcomes included, until `limit` + 1
        runs are read (the one more says whether another page exists). The current-run row has no `run`
        column and sorts last: it is never listed."""
        limit = max(1, int(limit))
        start: list = [("instance_id", instance_id), ("run_id", before if before else ots.INF_MAX)]
        end = [("instance_id", instance_id), ("run_id", ots.INF_MIN)]
        found: list[RunRecord] = []
        while len(found) <= limit:
            _, next_start, rows, _ = self._call("list_runs", self.client.get_range, self.tables.runs,
                                                ots.Direction.BACKWARD, start, end,
                                                limit=min(limit + 2 - len(found), 5000), max_version=1)
            for row in rows:
                if before is not None and row.primary_key[1][1] >= before:
                    continue
                record = self._row_to_record(row)
                if record is not None:
                    found.append(record)
            if next_start is None:
                break
            start = next_start
        return found[:limit], (found[limit - 1].run.run_id if len(found) > limit else None)

    def latest_runs(self, instance_ids: Sequence[str], count: int) -> dict[str, list[RunRecord]]:
        """The `count` (1 or 2) latest runs of each instance, newest first, in batches rather than a read per
        instance: one BatchGetRow of the current-run rows (each names its run and the run its claim replaced,
        `previous_run_id`, "" for none), then one of those runs (BatchGetRow takes at most 100 rows,
        REFERENCE.md). A current row written before it named the run it replaced gives its run alone; an
        instance without a current row (runs from before they existed), or whose current run was claimed but
        never created, is read with `list_runs`."""
        ids = list(dict.fromkeys(instance_ids))
        count = max(1, int(count))
        current = self._batch_get([self._run_key(instance_id, CURRENT_ROW) for instance_id in ids],
                                  ["current_run_id", "previous_run_id"])
        wanted: dict[str, list[str]] = {}
        for instance_id, columns in zip(ids, current):
            if columns is not None and "current_run_id" in columns:
                previous = columns.get("previous_run_id") or ""
                wanted[instance_id] = [columns["current_run_id"], *([previous] if previous and count > 1 else [])]
        keys = [(instance_id, run_id) for instance_id, run_ids in wanted.items() for run_id in run_ids]
        rows = dict(zip(keys, self._batch_get([self._run_key(*key) for key in keys], None, rows=True)))
        result: dict[str, list[RunRecord]] = {}
        for instance_id in ids:
            records = [self._row_to_record(rows.get((instance_id, run_id))) for run_id in wanted.get(instance_id, [])]
            if records and records[0] is not None:
                result[instance_id] = [record for record in records if record is not None]
            else:
                result[instance_id] = self.list_runs(instance_id, None, count)[0]
        return result

    def _batch_get(self, keys: list, columns: list[str] | None, rows: bool = False) -> list[Any]:
        """Each key's row of the runs table (`rows`) or its columns, in order, 100 keys a request; None for a
        key that has no row, or whose read failed (the caller reads it another way)."""
        found: list[Any] = []
        for first in range(0, len(keys), 100):
            chunk = keys[first:first + 100]
            request = ots.BatchGetRowRequest()
            request.add(ots.TableInBatchGetRowItem(self.tables.runs, chunk, columns_to_get=columns, max_version=1))
            response = self._call("latest_runs", self.client.batch_get_row, request)
            items = response.get_result_by_table(self.tables.runs) or []
            for key, item in zip(chunk, [*items, *[None] * (len(chunk) - len(items))]):
                row = item.row if item is not None and item.is_ok else None
                if row is not None and [value for _, value in row.primary_key] != [value for _, value in key]:
                    row = None  # not the row asked for: read it another way
                found.append(row if rows else (cells.columns_of(row) if row is not None else None))
        return found

    @staticmethod
    def _run_key(instance_id: str, run_id: str) -> list[tuple[str, str]]:
        return [("instance_id", instance_id), ("run_id", run_id)]

    def _row_to_record(self, row: Any) -> RunRecord | None:
        """The run of a runs-table row and the outcomes stored in it; None for no row (or an expired one).
        A cell that does not validate is reported for its run, never raised (`records`)."""
        columns = cells.columns_of(row)
        if "run" not in columns:  # absent, or its run cell has expired
            return None
        instance_id, run_id = (value for _, value in row.primary_key)
        try:
            items = Run.model_validate_json(columns["run"]).items
        except ValueError:
            items = []
        named = {cells.outcome_column(item): item for item in items}
        outcomes: dict[str, Outcome] = {}
        for name, value in columns.items():
            if cells.is_outcome_column(name) and value != PLACEHOLDER:  # "": the item has no outcome yet
                item = named.get(name) or cells.item_of(name)
                outcome = records.read_outcome(value, item, run_id)
                outcomes[outcome.item] = outcome
        return records.read_run(columns["run"], instance_id, run_id, outcomes)

    # --- events -----------------------------------------------------------------------------------------------

    def claim_event(self, key: str) -> bool:
        """PutRow EXPECT_NOT_EXIST. A failed condition after a retried attempt may be our own first attempt:
        the claim's random token tells."""
        token = os.urandom(8).hex()
        stored_key = cells.event_key(key)
        row = ots.Row([("key", stored_key)], [("claimed_at", int(self._clock() * 1000)), ("token", token)])
        try:
            self._call("claim_event", self.client.put_row, self.tables.events, row,
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST))
            return True
        except OTSServiceError:
            _, stored, _ = self._call("claim_event", self.client.get_row, self.tables.events,
                                      [("key", stored_key)], columns_to_get=["token"], max_version=1)
            return cells.columns_of(stored).get("token") == token

    def event_claimed(self, key: str) -> bool:
        _, stored, _ = self._call("claim_event", self.client.get_row, self.tables.events,
                                  [("key", cells.event_key(key))], columns_to_get=["token"], max_version=1)
        return bool(cells.columns_of(stored))

    def close(self) -> None:
        """Nothing to release (the SDK's connection pool closes with the process)."""
