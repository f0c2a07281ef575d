"""The cloud result store: three Tablestore tables, each shaped for the reads the service makes.

Schema (table names are a prefix, `precheck_` by default, plus the name below):

  instances  PK (instance_id STRING)               `instance` STRING: the Instance as JSON. Never expires.
  runs       PK (instance_id STRING, run_id STRING) `run` STRING: the Run as JSON; one column per item's
             outcome (see "Outcomes" below). Expires after the runs TTL (90 days by default).
  events     PK (key STRING)                        `claimed_at` INTEGER (epoch ms), `token` STRING.
             Expires after the events TTL (7 days by default).

Access paths: `latest_run` is ONE GetRange, BACKWARD from (instance, INF_MAX) with limit 1: run ids are
time-ordered, and the outcomes live in the run's row, so the latest run and its outcomes come back in
one request whatever the length of the history. `get_run` is one GetRow. `list_instances` pages the
instances table with GetRange FORWARD.

Outcomes: item `x` is column `o_x` (items that are not `[A-Za-z0-9_]{1,200}` get `h_<sha256>`; the item
is read back from the outcome itself). The column is a STRING holding either the outcome's JSON (up to
`inline_bytes`, 256 KB by default: readable in the console) or, for a larger outcome, the manifest
`zlib:<nonce>:<chunks>`: the JSON compressed with zlib and split into BINARY columns
`co_x_<nonce>_<i>` of at most `chunk_bytes` (1.9 MB; a cell holds 2 MB). Manifest and chunks go in the
same write while they fit one (`write_bytes`, 3.8 MB; a write holds 4 MB); beyond that the chunks are
staged by earlier writes and the manifest, written last, is the completion marker: chunks no manifest
names are never read. An outcome is never rejected for its size.

First write wins: the outcome's write is ONE UpdateRow whose condition is row EXPECT_EXIST plus
`SingleColumnCondition(o_x < "", pass_if_missing=True)`. Every stored value is a non-empty string and
no string sorts before "", so the comparison is false whenever the column exists: the write passes only
while the item has no outcome, atomically on the service (a failed condition changes nothing and
answers `OTSConditionCheckFail`, which here means "already stored" -> False; after a retried attempt
whose first try was applied, the outcome stored is this one and False still holds: nothing is lost).
A run that does not exist (EXPECT_EXIST) also answers False: nothing was stored. Tables keep one version.

Errors: throttling and busy answers are retried by `BoundedRetryPolicy` (3 retries, well under 2 s of
back-off in all); anything else becomes `StoreError`, whose message never holds a credential. Each
request is bounded by the client's socket timeout (5 s).

Credentials rotate (STS): a store built from configuration keeps how to build its client and rebuilds it
when `refresh(context)` sees other credentials. `import tablestore` costs ~220 ms: only this module
imports it.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import random
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qs, urlsplit

import urllib3

from ...models import Instance, Outcome, Run
from ...ports import RunRecord, StoreError
from ..credentials import Credentials
from ..neterrors import classify


def _import_sdk():
    """Import the SDK without its import-time notices ("Native C++ encoder not available") on stderr."""
    notices = [logging.getLogger(f"tablestore.{name}") for name in ("encoder", "decoder")]
    levels = [logger.level for logger in notices]
    for logger in notices:
        logger.setLevel(logging.ERROR)
    try:
        import tablestore
        import tablestore.retry
    finally:
        for logger, level in zip(notices, levels):
            logger.setLevel(level)
    return tablestore


ots = _import_sdk()
from tablestore.error import OTSClientError, OTSServiceError  # noqa: E402  (after the quiet import)

log = logging.getLogger("precheck.store.tablestore")

#: the SDK logs every failed request (expected condition failures included) at ERROR, and request
#: headers at DEBUG: it gets a logger of its own, silenced; this module logs what matters.
SDK_LOGGER = "precheck.store.tablestore.sdk"
logging.getLogger(SDK_LOGGER).setLevel(logging.CRITICAL + 1)

ENDPOINT_ENV = "PRECHECK_OTS_ENDPOINT"
INSTANCE_ENV = "PRECHECK_OTS_INSTANCE"
REGION_ENVS = ("PRECHECK_OTS_REGION", "ALIBABA_CLOUD_REGION_ID", "FC_REGION")
PREFIX_ENV = "PRECHECK_OTS_TABLE_PREFIX"
TIMEOUT_ENV = "PRECHECK_OTS_TIMEOUT_S"

DEFAULT_PREFIX = "precheck_"
DEFAULT_SOCKET_TIMEOUT_S = 5.0
DEFAULT_RUNS_TTL_DAYS = 90
DEFAULT_EVENTS_TTL_DAYS = 7

CONDITION_FAILED = "OTSConditionCheckFail"
MAX_KEY_BYTES = 1024
_SAFE_ITEM = re.compile(r"^[A-Za-z0-9_]{1,200}$")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_MANIFEST = re.compile(r"^zlib:([0-9a-f]{8}):([0-9]{1,6})$")


def vpc_endpoint(instance: str, region: str) -> str:
    """Tablestore's endpoint inside the region's VPCs (FC functions with VPC access reach it)."""
    return f"https://{instance}.{region}.vpc.tablestore.aliyuncs.com"


# --- configuration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableNames:
    instances: str = DEFAULT_PREFIX + "instances"
    runs: str = DEFAULT_PREFIX + "runs"
    events: str = DEFAULT_PREFIX + "events"

    @classmethod
    def with_prefix(cls, prefix: str) -> "TableNames":
        names = cls(prefix + "instances", prefix + "runs", prefix + "events")
        if not all(_TABLE_NAME.match(name) for name in names.all()):
            raise ValueError(f"table prefix {prefix!r} makes invalid Tablestore table names "
                             "(letters, digits and _ only, not starting with a digit)")
        return names

    def all(self) -> tuple[str, str, str]:
        return self.instances, self.runs, self.events


class BoundedRetryPolicy(ots.retry.RetryPolicy):
    """At most `max_retries` retries with jittered exponential back-off capped at `max_delay` seconds.

    Retried on every API: answers that say the request was not executed (throttled, busy, partition
    unavailable, row conflict, table not ready). Retried on every API too: answers whose effect is unknown
    (timeout, internal error, 5xx); every write this store makes is safe to repeat (idempotent, or
    conditional with the outcome of a repeat made out: see `claim_event` and `record_outcome`).
    Not retried: client errors (4xx), among them a failed condition. Network errors never reach a policy.
    """

    NOT_EXECUTED = frozenset({"OTSServerBusy", "OTSPartitionUnavailable", "OTSNotEnoughCapacityUnit",
                              "OTSOperationThrottled", "OTSRowOperationConflict", "OTSOperationConflict",
                              "OTSTableNotReady", "OTSTooFrequentReservedThroughputAdjustment"})
    UNKNOWN_EFFECT = frozenset({"OTSTimeout", "OTSInternalServerError", "OTSServerUnavailable"})

    def __init__(self, max_retries: int = 3, base_delay: float = 0.1, max_delay: float = 1.0):
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay

    @classmethod
    def retryable(cls, error: Exception) -> bool:
        code = getattr(error, "code", "") or ""
        if code in cls.NOT_EXECUTED or code in cls.UNKNOWN_EFFECT:
            return True
        if code == "OTSQuotaExhausted":  # "Too frequent table operations." is transient; a quota is not
            return "frequent" in (getattr(error, "message", "") or "").lower()
        return getattr(error, "http_status", None) in (500, 502, 503, 504)

    def should_retry(self, retry_times: int, exception: Exception, api_name: str) -> bool:
        return retry_times < self.max_retries and self.retryable(exception)

    def get_retry_delay(self, retry_times: int, exception: Exception, api_name: str) -> float:
        limit = min(self.max_delay, self.base_delay * 2 ** (retry_times + 1))
        return limit / 2 + random.random() * limit / 2

    @property
    def worst_total_delay(self) -> float:
        return sum(min(self.max_delay, self.base_delay * 2 ** (n + 1)) for n in range(self.max_retries))


@dataclass(frozen=True)
class Connection:
    """Where the store's Tablestore instance is and how to talk to it; builds clients for credentials."""

    endpoint: str
    instance: str
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_S
    retry_policy: Any = field(default_factory=BoundedRetryPolicy, compare=False)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, *, endpoint: Optional[str] = None,
                 instance: Optional[str] = None) -> "Connection":
        env = os.environ if environ is None else environ
        instance = instance or env.get(INSTANCE_ENV, "").strip()
        if not instance:
            raise ValueError(f"the Tablestore store needs its instance name: set {INSTANCE_ENV}")
        endpoint = endpoint or env.get(ENDPOINT_ENV, "").strip()
        if not endpoint:
            region = next((env[name].strip() for name in REGION_ENVS if env.get(name, "").strip()), "")
            if not region:
                raise ValueError(f"the Tablestore store needs {ENDPOINT_ENV}, or a region "
                                 f"({' / '.join(REGION_ENVS)}) to derive the VPC endpoint from")
            endpoint = vpc_endpoint(instance, region)
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"{ENDPOINT_ENV} must start with http:// or https://")
        try:
            timeout = float(env.get(TIMEOUT_ENV) or DEFAULT_SOCKET_TIMEOUT_S)
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds") from None
        return cls(endpoint.rstrip("/"), instance, timeout)

    def client(self, credentials: Credentials) -> "ots.OTSClient":
        options: dict[str, Any] = {}
        if credentials.security_token:
            options["sts_token"] = credentials.security_token
        return ots.OTSClient(self.endpoint, credentials.access_key_id, credentials.access_key_secret, self.instance,
                             socket_timeout=self.socket_timeout, retry_policy=self.retry_policy,
                             logger_name=SDK_LOGGER, **options)


def tables_from_env(environ: Optional[Mapping[str, str]] = None) -> TableNames:
    env = os.environ if environ is None else environ
    return TableNames.with_prefix(env.get(PREFIX_ENV, DEFAULT_PREFIX))


def parse_url(url: str, environ: Optional[Mapping[str, str]] = None) -> tuple[Connection, TableNames]:
    """`tablestore:` (everything from the environment), `tablestore:INSTANCE` or `tablestore://INSTANCE`,
    optionally with `?endpoint=URL&prefix=P`, which override PRECHECK_OTS_* variables."""
    parts = urlsplit(url)
    if parts.scheme != "tablestore":
        raise ValueError(f"not a tablestore: URL: {url.split(':', 1)[0]!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "prefix"}
    if unknown:
        raise ValueError(f"unknown tablestore: URL option(s): {', '.join(sorted(unknown))}")
    instance = (parts.netloc or parts.path.strip("/")) or None
    connection = Connection.from_env(environ, endpoint=query.get("endpoint"), instance=instance)
    tables = TableNames.with_prefix(query["prefix"]) if "prefix" in query else tables_from_env(environ)
    return connection, tables


# --- the store ----------------------------------------------------------------------------------------------


class TablestoreResultStore:
    """`ResultStore` on Tablestore (see the module docstring for the schema).

    Pass `client` (an `OTSClient`) to use it as given; or a `connection`, and the store builds its client
    from the environment's credentials now and rebuilds it whenever `refresh(context)` sees new ones.
    """

    def __init__(self, client: Optional["ots.OTSClient"] = None, tables: TableNames = TableNames(), *,
                 connection: Optional[Connection] = None, credentials: Optional[Credentials] = None,
                 inline_bytes: int = 256 * 1024, chunk_bytes: int = 1_900_000, write_bytes: int = 3_800_000,
                 clock: Callable[[], float] = time.time):
        if client is None and connection is None:
            connection = Connection.from_env()
        self.tables = tables
        self.connection = connection
        self.inline_bytes = inline_bytes
        self.chunk_bytes = chunk_bytes
        self.write_bytes = max(write_bytes, chunk_bytes + 4096)
        self._clock = clock
        self._lock = threading.Lock()
        self._client = client
        self._credentials: Optional[Credentials] = None
        if client is None:
            self._use(credentials or Credentials.from_env())

    @classmethod
    def from_url(cls, url: str, environ: Optional[Mapping[str, str]] = None, **options: Any) -> "TablestoreResultStore":
        connection, tables = parse_url(url, environ)
        credentials = None
        if environ is not None and environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID"):
            credentials = Credentials(environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                                      environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
                                      environ.get("ALIBABA_CLOUD_SECURITY_TOKEN"))
        return cls(None, tables, connection=connection, credentials=credentials, **options)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **options: Any) -> "TablestoreResultStore":
        return cls.from_url("tablestore:", environ, **options)

    # --- credentials ----------------------------------------------------------------------------------------

    def refresh(self, context: Any) -> None:
        """Take this invocation's STS credentials (they rotate); the client is rebuilt only if they changed.
        A store given its client by the caller keeps it."""
        if self.connection is not None:
            self._use(Credentials.from_context(context))

    def _use(self, credentials: Optional[Credentials]) -> None:
        if credentials is None or self.connection is None:
            return
        with self._lock:
            if credentials != self._credentials:
                self._client = self.connection.client(credentials)
                self._credentials = credentials

    @property
    def client(self) -> "ots.OTSClient":
        client = self._client
        if client is None:
            raise StoreError("credentials", "no credentials for Tablestore: the function's context has none and "
                                            "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET are not set")
        return client

    def _call(self, what: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """One SDK call; every SDK or network error becomes a StoreError (a failed condition is re-raised
        for the caller to read)."""
        try:
            return function(*args, **kwargs)
        except OTSServiceError as error:
            if error.code == CONDITION_FAILED:
                raise
            raise self._store_error(what, error) from None
        except StoreError:
            raise
        except OTSClientError as error:
            raise StoreError("tablestore", self._redact(f"Tablestore {what} failed: {error.message}")) from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:  # the SDK does not wrap these
            raise StoreError("unavailable", self._redact(
                f"Tablestore {what} failed: cannot reach {self._where()} ({classify(error).reason})")) from None

    def _store_error(self, what: str, error: OTSServiceError) -> StoreError:
        if error.code == "OTSObjectNotExist":
            return StoreError("missing_table", f"Tablestore {what} failed: a table of the store does not exist "
                                               f"({', '.join(self.tables.all())}): run `precheck store init`")
        kind = "throttled" if BoundedRetryPolicy.retryable(error) else "tablestore"
        retried = " (after retries)" if kind == "throttled" else ""
        return StoreError(kind, self._redact(
            f"Tablestore {what} failed{retried}: HTTP {error.http_status} {error.code}: {error.message} "
            f"(request {error.request_id or '?'})"))

    def _where(self) -> str:
        return self.connection.endpoint if self.connection is not None else "the Tablestore endpoint"

    def _redact(self, text: str) -> str:
        credentials = self._credentials
        if credentials is not None:
            for secret in (credentials.access_key_secret, credentials.security_token):
                if secret and len(secret) >= 4:
                    text = text.replace(secret, "***")
        return text[:1000]

    # --- instances --------------------------------------------------------------------------------------------

    def save_instance(self, instance: Instance) -> None:
        row = ots.Row([("instance_id", instance.instance_id)], [("instance", instance.model_dump_json())])
        self._call("save_instance", self.client.put_row, self.tables.instances, row,
                   ots.Condition(ots.RowExistenceExpectation.IGNORE))

    def get_instance(self, instance_id: str) -> Optional[Instance]:
        _, row, _ = self._call("get_instance", self.client.get_row, self.tables.instances,
                               [("instance_id", instance_id)], columns_to_get=["instance"], max_version=1)
        columns = _columns(row)
        return Instance.model_validate_json(columns["instance"]) if "instance" in columns else None

    def list_instances(self, after: Optional[str], limit: int) -> tuple[list[Instance], Optional[str]]:
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
                columns = _columns(row)
                if "instance" not in columns:
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(Instance.model_validate_json(columns["instance"]))
            if more or next_start is None:
                break
            start = next_start
        return page, (page[-1].instance_id if more and page else None)

    # --- runs -------------------------------------------------------------------------------------------------

    def create_run(self, run: Run) -> None:
        """Stores the run once: a run already stored (a repeated request) is left as it is."""
        row = ots.Row(self._run_key(run.instance_id, run.run_id), [("run", run.model_dump_json())])
        try:
            self._call("create_run", self.client.put_row, self.tables.runs, row,
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST))
        except OTSServiceError:  # condition failed: the run exists
            pass

    def get_run(self, instance_id: str, run_id: str) -> Optional[RunRecord]:
        _, row, _ = self._call("get_run", self.client.get_row, self.tables.runs,
                               self._run_key(instance_id, run_id), max_version=1)
        return self._record(row)

    def latest_run(self, instance_id: str) -> Optional[RunRecord]:
        """ONE GetRange: the row with the greatest (time-ordered) run id, outcomes included."""
        start = [("instance_id", instance_id), ("run_id", ots.INF_MAX)]
        end = [("instance_id", instance_id), ("run_id", ots.INF_MIN)]
        while True:
            _, next_start, rows, _ = self._call("latest_run", self.client.get_range, self.tables.runs,
                                                ots.Direction.BACKWARD, start, end, limit=1, max_version=1)
            if rows or next_start is None:  # the service may answer a page with no rows: go on from its key
                return self._record(rows[0]) if rows else None
            start = next_start

    def record_outcome(self, instance_id: str, run_id: str, outcome: Outcome) -> bool:
        """First write wins: ONE conditional UpdateRow (more only for an outcome too large for one write,
        whose chunks are staged first). False when the item's outcome is already stored."""
        column = _outcome_column(outcome.item)
        body = outcome.model_dump_json()
        encoded = body.encode("utf-8")
        staged: list[str] = []
        if len(encoded) <= self.inline_bytes:
            puts: list[tuple[str, Any]] = [(column, body)]
        else:
            nonce = os.urandom(4).hex()
            packed = zlib.compress(encoded, 6)
            chunks = [(f"c{column}_{nonce}_{n}", bytearray(packed[offset:offset + self.chunk_bytes]))
                      for n, offset in enumerate(range(0, len(packed), self.chunk_bytes))]
            manifest = (column, f"zlib:{nonce}:{len(chunks)}")
            groups = _groups(chunks, self.write_bytes)
            for group in groups[:-1]:  # too large for one write: stage all but the last group first
                if not self._stage(instance_id, run_id, group):
                    return False
                staged.extend(name for name, _ in group)
            puts = [manifest, *groups[-1]]
        condition = ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST,
                                  ots.SingleColumnCondition(column, "", ots.ComparatorType.LESS_THAN,
                                                            pass_if_missing=True, latest_version_only=True))
        row = ots.Row(self._run_key(instance_id, run_id), {"put": puts})
        try:
            self._call("record_outcome", self.client.update_row, self.tables.runs, row, condition)
            return True
        except OTSServiceError:
            # the item's outcome is stored already (or the run does not exist): nothing was written
            if staged:
                self._unstage(instance_id, run_id, staged)
            return False

    def _stage(self, instance_id: str, run_id: str, cells: list[tuple[str, Any]]) -> bool:
        """Write chunks no manifest names yet (invisible to readers); False if the run does not exist."""
        row = ots.Row(self._run_key(instance_id, run_id), {"put": cells})
        try:
            self._call("record_outcome", self.client.update_row, self.tables.runs, row,
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST))
            return True
        except OTSServiceError:
            return False

    def _unstage(self, instance_id: str, run_id: str, names: list[str]) -> None:
        row = ots.Row(self._run_key(instance_id, run_id), {"delete_all": names})
        try:
            self._call("record_outcome", self.client.update_row, self.tables.runs, row,
                       ots.Condition(ots.RowExistenceExpectation.IGNORE))
        except (OTSServiceError, StoreError) as error:  # unreferenced chunks are never read; TTL removes them
            log.warning("could not remove unused outcome chunks of run %s: %s", run_id, error)

    @staticmethod
    def _run_key(instance_id: str, run_id: str) -> list[tuple[str, str]]:
        return [("instance_id", instance_id), ("run_id", run_id)]

    def _record(self, row: Any) -> Optional[RunRecord]:
        columns = _columns(row)
        if "run" not in columns:  # absent, or its run cell has expired
            return None
        run = Run.model_validate_json(columns["run"])
        outcomes: dict[str, Outcome] = {}
        for name, value in columns.items():
            if name.startswith(("o_", "h_")) and isinstance(value, str):
                outcome = self._outcome(run, name, value, columns)
                if outcome is not None:
                    outcomes[outcome.item] = outcome
        return RunRecord(run=run, outcomes=outcomes)

    def _outcome(self, run: Run, column: str, value: str, columns: dict[str, Any]) -> Optional[Outcome]:
        if value.startswith("{"):
            return Outcome.model_validate_json(value)
        match = _MANIFEST.match(value)
        if not match:
            log.warning("run %s: column %s holds no outcome I can read; ignored", run.run_id, column)
            return None
        names = [f"c{column}_{match[1]}_{n}" for n in range(int(match[2]))]
        missing = [name for name in names if name not in columns]
        if missing:  # a row larger than one read answer: fetch the chunks it left out
            columns = {**columns, **self._fetch(run, missing)}
        try:
            packed = b"".join(bytes(columns[name]) for name in names)
            return Outcome.model_validate_json(zlib.decompress(packed))
        except (KeyError, zlib.error) as error:
            raise StoreError("tablestore", f"run {run.run_id}: the outcome in {column} is incomplete ({error})") from None

    def _fetch(self, run: Run, names: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in names:
            _, row, _ = self._call("get_run", self.client.get_row, self.tables.runs,
                                   self._run_key(run.instance_id, run.run_id), columns_to_get=[name], max_version=1)
            found.update(_columns(row))
        return found

    # --- events -----------------------------------------------------------------------------------------------

    def claim_event(self, key: str) -> bool:
        """PutRow EXPECT_NOT_EXIST. A failed condition after a retried attempt may be our own first attempt:
        the claim's random token tells."""
        token = os.urandom(8).hex()
        row = ots.Row([("key", event_key(key))], [("claimed_at", int(self._clock() * 1000)), ("token", token)])
        try:
            self._call("claim_event", self.client.put_row, self.tables.events, row,
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST))
            return True
        except OTSServiceError:
            _, stored, _ = self._call("claim_event", self.client.get_row, self.tables.events,
                                      [("key", event_key(key))], columns_to_get=["token"], max_version=1)
            return _columns(stored).get("token") == token

    def close(self) -> None:
        """Nothing to release (the SDK's connection pool closes with the process)."""


# --- tables -----------------------------------------------------------------------------------------------------


def table_specs(tables: TableNames, runs_ttl_days: Optional[float] = DEFAULT_RUNS_TTL_DAYS,
                events_ttl_days: Optional[float] = DEFAULT_EVENTS_TTL_DAYS) -> list[tuple[str, list, int]]:
    """(name, primary key schema, TTL in seconds or -1) of each table; a TTL of None or 0 days: never."""
    def ttl(days: Optional[float]) -> int:
        if not days:
            return -1
        seconds = int(days * 86400)
        if seconds < 86400:
            raise ValueError("a Tablestore TTL is at least one day")
        return seconds

    return [(tables.instances, [("instance_id", "STRING")], -1),
            (tables.runs, [("instance_id", "STRING"), ("run_id", "STRING")], ttl(runs_ttl_days)),
            (tables.events, [("key", "STRING")], ttl(events_ttl_days))]


def create_tables(client: "ots.OTSClient", tables: TableNames = TableNames(), *,
                  runs_ttl_days: Optional[float] = DEFAULT_RUNS_TTL_DAYS,
                  events_ttl_days: Optional[float] = DEFAULT_EVENTS_TTL_DAYS) -> dict[str, str]:
    """Create the store's tables; idempotent. Returns {table: "created" | "exists" | "updated"}: an existing
    table with another TTL gets this one; an existing table with another primary key is a StoreError."""
    store = TablestoreResultStore(client, tables)
    existing = set(store._call("store init", client.list_table))
    done: dict[str, str] = {}
    for name, schema, ttl in table_specs(tables, runs_ttl_days, events_ttl_days):
        options = ots.TableOptions(time_to_live=ttl, max_version=1)
        if name not in existing:
            try:
                store._call("store init", client.create_table, ots.TableMeta(name, schema), options,
                            ots.ReservedThroughput(ots.CapacityUnit(0, 0)))
                done[name] = "created"
                continue
            except StoreError as error:
                if "OTSObjectAlreadyExist" not in error.message:  # created meanwhile by another init
                    raise
        described = store._call("store init", client.describe_table, name)
        actual = [(column, kind) for column, kind in described.table_meta.schema_of_primary_key]
        if actual != schema:
            raise StoreError("tablestore", f"table {name} exists with primary key {actual}, not {schema}: "
                                           "use another PRECHECK_OTS_TABLE_PREFIX or drop the table")
        current = described.table_options
        if (current.time_to_live, current.max_version) != (ttl, 1):
            store._call("store init", client.update_table, name, ots.TableOptions(time_to_live=ttl, max_version=1))
            done[name] = "updated"
        else:
            done[name] = "exists"
    return done


# --- helpers --------------------------------------------------------------------------------------------------


def event_key(key: str) -> str:
    """The events table's key: the key itself, or `sha256:<hex>` when it would exceed the 1 KB key limit
    (keys that start with `sha256:` are hashed too, so the two forms cannot collide)."""
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES - 24 and not key.startswith("sha256:"):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _outcome_column(item: str) -> str:
    if _SAFE_ITEM.match(item):
        return "o_" + item
    return "h_" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:40]


def _columns(row: Any) -> dict[str, Any]:
    if row is None:
        return {}
    return {name: value for name, value, *_ in row.attribute_columns}


def _groups(cells: list[tuple[str, Any]], budget: int) -> list[list[tuple[str, Any]]]:
    groups: list[list[tuple[str, Any]]] = [[]]
    size = 0
    for cell in cells:
        cost = len(cell[0]) + len(cell[1]) + 64
        if groups[-1] and size + cost > budget:
            groups.append([])
            size = 0
        groups[-1].append(cell)
        size += cost
    return groups

