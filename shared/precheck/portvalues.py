"""The values the result store and the assistant pass through their ports (`precheck.ports` re-exports each:
import them from there), and what the service's entry points return (`precheck.service` re-exports Started,
Collected and StartResult; here so that service.py stays one module's size). Kept apart so that a check
function, which passes none of them, does not load them on its first invocation (cold start).

Hand-written value classes (precheck.frozen), not dataclasses: generating a dataclass costs 0.3-0.5 ms a
class on a cold start (issue 16). Each behaves as the dataclass it was: the same constructor, == (and hash
when frozen; a mutable one is unhashable), repr and refusals."""

from __future__ import annotations

from .frozen import Frozen, Record
from .models import Instance, Outcome, Run, RunView


class Invocation(Frozen):
    """What the probe printed on the instance, its exit code, and the OS family it ran on."""

    __slots__ = ("output", "exit_code", "os_family")
    output: str
    exit_code: int | None
    os_family: str

    def __init__(self, output: str, exit_code: int | None, os_family: str):
        self._init(output=output, exit_code=exit_code, os_family=os_family)


class RunRecord(Record):
    """A stored run and the outcomes collected for it so far, keyed by item."""

    __slots__ = ("run", "outcomes")
    run: Run
    outcomes: dict[str, Outcome]

    def __init__(self, run: Run, outcomes: dict[str, Outcome] | None = None):
        self.run = run
        self.outcomes = {} if outcomes is None else outcomes


class Recorded(Frozen):
    """What `ResultStore.record_outcome` did: `stored` (this call stored the outcome; the object is true then),
    and whether every item of the run now has an outcome stored (`complete`), known without reading the run;
    `missing` says why nothing was stored when there is nothing to store it in: "run" (no such run) or "item"
    (the run has no such item); "" otherwise (stored, or a repeat)."""

    __slots__ = ("stored", "complete", "missing")
    stored: bool
    complete: bool
    missing: str

    def __init__(self, stored: bool, complete: bool = False, missing: str = ""):
        self._init(stored=stored, complete=complete, missing=missing)

    def __bool__(self) -> bool:
        return self.stored


class EndMark(Frozen):
    """A run's "ended" mark (`ResultStore.begin_end`): `ending` while its holder publishes the run's event,
    `published` once acknowledged; `since` is when the holder took it, `token` who holds it."""

    __slots__ = ("state", "since", "token")
    state: str
    since: float
    token: str

    def __init__(self, state: str, since: float, token: str):
        self._init(state=state, since=since, token=token)


# --- what the service returns (precheck.service) ----------------------------------------------------------


class Started(Record):
    """A start's run, and whether this call started it."""

    __slots__ = ("run", "started")
    run: RunView
    started: bool  # False when a run of the instance was already RUNNING and is returned instead

    def __init__(self, run: RunView, started: bool):
        self.run = run
        self.started = started


class Collected(Record):
    """Whether `collect` stored the delivered outcome, and why (not)."""

    __slots__ = ("stored", "reason")
    stored: bool
    reason: str

    def __init__(self, stored: bool, reason: str):
        self.stored = stored
        self.reason = reason


class StartResult(Record):
    """What `start_precheck` did, for the handler to put into words."""

    __slots__ = ("started", "instance", "duplicate", "summary", "updated")
    started: Started | None
    instance: Instance | None
    duplicate: bool
    summary: dict
    updated: bool | None  # a registration: whether it replaced an instance with the same id

    def __init__(self, started: Started | None = None, instance: Instance | None = None, duplicate: bool = False,
                 summary: dict | None = None, updated: bool | None = None):
        self.started = started
        self.instance = instance
        self.duplicate = duplicate
        self.summary = {} if summary is None else summary
        self.updated = updated
