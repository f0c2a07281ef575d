"""The interfaces (typing.Protocol classes) the service layer and the checks depend on, re-exported by
`precheck.ports` (where the domain errors they raise live).

Each has a cloud implementation and an embedded one (see `precheck.adapters`); the handlers never know
which. Apart from `precheck.ports` so that a check function, which uses them only as annotations, does not
create them: 11 Protocol classes cost every cold start about 0.3 ms (issue 16). `NetworkProbe` stays in
`precheck.ports` (it names `Connected`, which lives there, and this module imports nothing from there: no
import cycle). `Refreshable` is `runtime_checkable`: `precheck.deps` asks `isinstance` of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .adapters.credentials import Credentials
    from .models import Endpoint, Instance, Outcome, Run
    from .portvalues import EndMark, Invocation, Recorded, RunRecord
    from .probes import ProbeTarget
    from .sqltarget import SqlTarget


class OssProbe(Protocol):
    """Reads a bucket's info (`GET /?bucketInfo`) through the given endpoint."""

    def bucket_info(self, endpoint: Endpoint, bucket: str, timeout: float) -> dict[str, Any]: ...


class Assistant(Protocol):
    """Runs the network probe (precheck.probes) on ECS instance `instance_id` of `region`: through Cloud Assistant
    in the cloud, with bash on this machine locally. `os_family` None: found out (Cloud Assistant reports the OS).
    Every wait is within `timeout` seconds in all; an invocation still running then is stopped. Raises
    `AssistantError`."""

    def run_probe(self, instance_id: str, region: str, os_family: str | None, target: ProbeTarget,
                  timeout: float) -> Invocation:
        ...


class SqlSession(Protocol):
    """An open, read-only SQL Server session."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class SqlConnector(Protocol):
    """Opens a session as `user` with `password` on `target` (its server name, resolved through the SQL
    Server Browser for a named instance, and its encryption); every wait is bounded by `timeout` seconds."""

    def connect(self, target: SqlTarget, user: str, password: str, timeout: float) -> SqlSession: ...


class SecretResolver(Protocol):
    def resolve(self, ref: str) -> str: ...


class EndMarks(Protocol):
    """The "ended" mark of each run, so that a run publishes its completion event once (`precheck.completion`).

    `begin_end` is ONE conditional write: it creates the mark (`ending`, held by `token` since `now`), or takes
    over a mark still `ending` that was taken before `stale_before` (its holder crashed before publishing);
    of any number of concurrent calls for a run, at most one answers True. `end_published` marks the event
    acknowledged; `end_mark` reads the mark (None: never taken).
    """

    def begin_end(self, instance_id: str, run_id: str, token: str, now: float, stale_before: float) -> bool: ...

    def end_published(self, instance_id: str, run_id: str) -> None: ...

    def end_mark(self, instance_id: str, run_id: str) -> EndMark | None: ...


class ResultStore(EndMarks, Protocol):
    """Registered instances, runs and their outcomes.

    `create_run` stores a run once: creating it again leaves the stored run as it is. `record_outcome` is
    first-write-wins per (run, item): at-least-once delivery can repeat an outcome or deliver it late, and
    neither may change what was stored first; it answers a true `Recorded` only when it stored the outcome, so a
    false one for a repeat, for a run that does not exist and for an item the run does not have (nothing is
    stored then), and says whether the run is complete, so that a collector never reads the run to know it.
    `latest_run` is one read whatever the length of the history.

    One run per instance at a time: `current_run` is the run an instance's last successful `claim_run`
    made current, and `claim_run(run, replacing)` is ONE conditional write (compare-and-set) that makes `run`
    current only while the current run's id is still `replacing` (None: the instance has no current run
    yet); of any number of concurrent claims replacing the same run, exactly one answers True. Whether the
    current run may be replaced (finished, or past its deadline) is the service's decision, made on the run
    it read: the write's condition guarantees nobody replaced it meanwhile.
    """

    def save_instance(self, instance: Instance) -> None: ...

    def get_instance(self, instance_id: str) -> Instance | None: ...

    def list_instances(self, after: str | None, limit: int) -> tuple[list[Instance], str | None]: ...

    def create_run(self, run: Run) -> None: ...

    def get_run(self, instance_id: str, run_id: str) -> RunRecord | None: ...

    def latest_run(self, instance_id: str) -> RunRecord | None: ...

    def list_runs(self, instance_id: str, before: str | None, limit: int) -> tuple[list[RunRecord], str | None]:
        """An instance's runs older than run `before` (None: from the newest), newest first, at most `limit`,
        and the cursor of the next page (the last run id listed) while more remain."""
        ...

    def latest_runs(self, instance_ids: Sequence[str], count: int) -> dict[str, list[RunRecord]]:
        """The `count` latest runs of each instance (newest first; [] for none) in a few reads for the whole
        page, not one per instance where the store allows it (the fleet view and its "what changed")."""
        ...

    def record_outcome(self, instance_id: str, run_id: str, outcome: Outcome) -> Recorded: ...

    def run_complete(self, instance_id: str, run_id: str) -> tuple[Run, bool] | None:
        """A run and whether every item of it has an outcome stored, without reading the outcomes (None: no
        such run): what a start needs to know whether the current run may be replaced."""
        ...

    def current_run(self, instance_id: str) -> Run | None: ...

    def claim_run(self, run: Run, replacing: str | None) -> bool: ...

    def claim_event(self, key: str) -> bool:
        """True the first time `key` is claimed, False on every later call (event de-duplication). Claim an
        event once its work is done: a claim made before would answer a retry after a failure "duplicate"."""
        ...

    def event_claimed(self, key: str) -> bool:
        """Whether `key` has been claimed (a read: it claims nothing)."""
        ...


class EventSink(Protocol):
    """Where run events go (a JSON Lines file locally, EventBridge in the cloud). `publish` returns once the
    event is acknowledged (retrying within its own bounded budget) and raises `PrecheckError` (kind
    `publish`) otherwise; publishing the same event again is allowed (consumers de-duplicate by `id`)."""

    def publish(self, event: dict[str, Any]) -> None: ...


class Scheduler(Protocol):
    """Invokes a function asynchronously after `delay_s` seconds (FC: `x-fc-async-delay`, at most 3600);
    the same `invocation_id` twice runs it once. Raises `PrecheckError` if it could not be queued."""

    def invoke_later(self, function_name: str, payload: bytes, invocation_id: str, delay_s: float) -> None: ...


@runtime_checkable
class Refreshable(Protocol):
    """A part holding cloud credentials, which rotate (FC hands each invocation its STS credentials).

    `refresh` takes the current ones (None: keep what it has); it rebuilds its client only if they changed.
    """

    def refresh(self, credentials: Credentials | None) -> None: ...


class Invoker(Protocol):
    """Invokes a function asynchronously; FC's destinations deliver each outcome to the collector.

    `invocation_id` names the invocation: invoking the same id twice runs the function once.
    Raises `PrecheckError` if the invocation could not be queued.
    """

    def invoke_async(self, function_name: str, payload: bytes, invocation_id: str) -> None: ...
