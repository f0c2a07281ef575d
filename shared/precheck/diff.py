"""What changed between a run and the run before it: items whose status changed, and the databases that appeared
in or disappeared from each item's findings."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .models import ItemStatus, Model, Outcome, RunView, new_list


class ItemChange(Model):
    """One item's change. `from` is None for an item the previous run did not have; databases are compared by
    the names each outcome lists (an outcome that left some out for size, `affected_omitted`, can only say
    what it listed)."""

    model_config = ConfigDict(populate_by_name=True)

    item: str
    from_: ItemStatus | None = Field(alias="from")
    to: ItemStatus
    appeared: list[str] = Field(default_factory=new_list)
    disappeared: list[str] = Field(default_factory=new_list)


class RunDiff(Model):
    run_id: str
    previous_run_id: str | None
    changed: list[ItemChange]

    def answer(self) -> dict:
        """As the API answers it (`from`, not `from_`)."""
        return self.model_dump(mode="json", by_alias=True)


def _databases(outcome: Outcome | None) -> set[str]:
    return {db.name for db in outcome.affected} if outcome is not None else set()


def diff_runs(current: RunView, previous: RunView | None) -> RunDiff:
    """The items of `current` that changed since `previous` (None: the first run, every item is new). Items
    still PENDING in either run are not compared yet."""
    before = {outcome.item: outcome for outcome in previous.items} if previous is not None else {}
    changes = []
    for outcome in current.items:
        old = before.get(outcome.item)
        if outcome.status is ItemStatus.PENDING or (old is not None and old.status is ItemStatus.PENDING):
            continue
        now_names, old_names = _databases(outcome), _databases(old)
        appeared, disappeared = sorted(now_names - old_names), sorted(old_names - now_names)
        if old is None or old.status is not outcome.status or appeared or disappeared:
            changes.append(ItemChange(item=outcome.item, from_=old.status if old is not None else None,
                                      to=outcome.status, appeared=appeared, disappeared=disappeared))
    return RunDiff(run_id=current.run_id, previous_run_id=previous.run_id if previous is not None else None,
                   changed=changes)


def changed_items(current: RunView, previous: RunView | None) -> list[str]:
    """The items whose status changed since `previous`, items new in this run included ([] for a first run:
    nothing to compare with)."""
    if previous is None:
        return []
    return [change.item for change in diff_runs(current, previous).changed if change.from_ is not change.to]
