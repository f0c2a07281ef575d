"""The values the result store and the assistant pass through their ports (`precheck.ports` re-exports each:
import them from there). Kept apart so that a check function, which passes none of them, does not generate
their dataclasses on its first invocation (cold start)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import Outcome, Run


@dataclass(frozen=True)
class Invocation:
    """What the probe printed on the instance, its exit code, and the OS family it ran on."""

    output: str
    exit_code: int | None
    os_family: str


@dataclass
class RunRecord:
    """A stored run and the outcomes collected for it so far, keyed by item."""

    run: Run
    outcomes: dict[str, Outcome] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """What `ResultStore.record_outcome` did: `stored` (this call stored the outcome; the object is true then),
    and whether every item of the run now has an outcome stored (`complete`), known without reading the run;
    `missing` says why nothing was stored when there is nothing to store it in: "run" (no such run) or "item"
    (the run has no such item); "" otherwise (stored, or a repeat)."""

    stored: bool
    complete: bool = False
    missing: str = ""

    def __bool__(self) -> bool:
        return self.stored


@dataclass(frozen=True)
class EndMark:
    """A run's "ended" mark (`ResultStore.begin_end`): `ending` while its holder publishes the run's event,
    `published` once acknowledged; `since` is when the holder took it, `token` who holds it."""

    state: str
    since: float
    token: str
