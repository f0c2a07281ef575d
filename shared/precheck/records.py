"""Stored records read back by the stores, where a record that no longer reads is reported, never raised.

A row can fail validation (damaged by hand, or written by a version that accepted what this one refuses,
such as a NaN stored as null). Raising would take down every read, start and fleet page that touches the
instance, and first-write-wins means the row can never be repaired. Instead:

- an unreadable outcome becomes an ERROR outcome of its item saying "stored outcome unreadable";
- an unreadable run becomes a finished run: the outcomes that still read, and an item `run` that is ERROR
  "stored run unreadable", so the run's status is ERROR and the next start creates a new run in its place;
- an unreadable instance is left out (logged): registering it again replaces it.

On the way in, `encode_outcome` refuses an outcome larger than `models.MAX_OUTCOME_BYTES`.

Messages name the record and the rule it breaks, never a stored value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from .models import MAX_OUTCOME_BYTES, Instance, ItemStatus, Outcome, Run
from .ports import PrecheckError, RunRecord

log = logging.getLogger("precheck.store")

UNREADABLE_TRIGGER = "unreadable"


class OutcomeTooLarge(PrecheckError):
    """An outcome larger than any the runner produces: refused at the store's edge, nothing written."""


def encode_outcome(outcome: Outcome) -> str:
    """The outcome's JSON as stored; OutcomeTooLarge beyond MAX_OUTCOME_BYTES (the runner fits every outcome
    within it, and the collector turns a larger delivery into an ERROR outcome, so no store ever splits one)."""
    body = outcome.model_dump_json()
    size = len(body.encode("utf-8"))
    if size > MAX_OUTCOME_BYTES:
        raise OutcomeTooLarge("too_large", f"the outcome of item {outcome.item[:64]} is {size} bytes; a store takes "
                                           f"at most {MAX_OUTCOME_BYTES}")
    return body


def _problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        details = error.errors(include_input=False, include_url=False)
        where = ", ".join(".".join(str(part) for part in detail["loc"]) or "body" for detail in details[:3])
        return f"{len(details)} invalid field(s): {where}"
    return type(error).__name__


def read_outcome(body: Any, item: str, run_id: str) -> Outcome:
    """The stored outcome of `item`, or an ERROR outcome saying it cannot be read."""
    try:
        outcome = Outcome.model_validate_json(body)
        if outcome.item == item or not item:
            return outcome
        problem = "it names another item"
    except (ValidationError, ValueError, TypeError) as error:
        problem = _problem(error)
    log.error("run %s: the stored outcome of item %s is unreadable (%s)", run_id, item or "?", problem)
    return unreadable_outcome(item or "unknown item", f"stored outcome unreadable ({problem})")


def unreadable_outcome(item: str, message: str) -> Outcome:
    return Outcome(item=item, status=ItemStatus.ERROR, message=message,
                   advice="The stored record cannot be read; start a new precheck of the instance.",
                   details={"reason": "unreadable"}, finished_at=0)


def read_run(body: Any, instance_id: str, run_id: str, outcomes: dict[str, Outcome]) -> RunRecord:
    """The stored run with its outcomes; an unreadable run is a finished one whose items say so."""
    try:
        run = Run.model_validate_json(body)
        if run.instance_id == instance_id and run.run_id == run_id:
            return RunRecord(run=run, outcomes=outcomes)
        problem = "it names another run"
    except (ValidationError, ValueError, TypeError) as error:
        problem = _problem(error)
    log.error("run %s of %s: the stored run is unreadable (%s)", run_id, instance_id, problem)
    started = _started_at(run_id)
    items = [*outcomes, *(["run"] if "run" not in outcomes else [])]  # "run": the run's own row
    run = Run(run_id=run_id, instance_id=instance_id, items=items, created_at=started, deadline=started,
              trigger=UNREADABLE_TRIGGER)
    message = f"stored run unreadable ({problem})"
    return RunRecord(run=run, outcomes={item: outcomes.get(item) or unreadable_outcome(item, message)
                                        for item in items})


def read_instances(rows: Iterable[tuple[str, Any]]) -> list[Instance]:
    """The readable instances of (instance_id, body) rows; unreadable ones are logged and left out."""
    found = []
    for instance_id, body in rows:
        instance = read_instance(body, instance_id)
        if instance is not None:
            found.append(instance)
    return found


def read_instance(body: Any, instance_id: str) -> Instance | None:
    try:
        return Instance.model_validate_json(body)
    except (ValidationError, ValueError, TypeError) as error:
        log.error("instance %s: the stored instance is unreadable (%s); register it again to replace it",
                  instance_id, _problem(error))
        return None


def _started_at(run_id: str) -> float:
    """A run id starts with its creation time in milliseconds (`models.new_run_id`)."""
    head = run_id.split("-", 1)[0]
    return int(head) / 1000 if head.isdigit() and len(head) <= 15 else 0.0
