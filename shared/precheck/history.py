"""Reading the fleet and its history: instances with their latest run, an instance's runs newest first
(issue 14, point 1); one run, its diff and its fix script are `precheck.reads`, which dispatches every read.

Reads only. `precheck check` registers its instance through `POST /instances` like any other, so the
command line, the API and the console see one fleet and one history.
Runs are kept as long as the store keeps them (Tablestore: the runs table's TTL, 90 days by default,
`adapters.tablestore.schema`). Paging cursors are plain ids; `reads.read` hands them out as the opaque tokens
of `precheck.paging`.
"""

from __future__ import annotations

from .deps import Deps
from .diff import changed_items
from .models import Instance, Model, RunStatus, RunView
from .paging import DEFAULT_PAGE, MAX_PAGE
from .ports import NotFound, RunRecord
from .service import view

#: instances read for one page of a filtered listing before answering with what matched so far and a cursor
#: (two pages of MAX_PAGE: with their latest runs, 8 store calls, which `timeouts.LAST_RESULT_STORE_CALLS` counts)
MAX_SCANNED = 200


class RunSummary(Model):
    """A run at a glance: its status, progress, times and the items whose status changed since the run
    before it."""

    run_id: str
    status: RunStatus
    progress: int
    created_at: float
    finished_at: float | None  # None while it runs
    trigger: str
    changed: list[str]


class InstanceEntry(Model):
    instance: Instance
    latest: RunSummary | None


class InstancePage(Model):
    instances: list[InstanceEntry]
    next: str | None  # the last instance id read, while more remain


class RunPage(Model):
    runs: list[RunSummary]
    next: str | None  # the last run id listed, while more remain


def summary(current: RunView, previous: RunView | None) -> RunSummary:
    finished = None
    if current.status is not RunStatus.RUNNING:
        finished = max((item.finished_at for item in current.items), default=current.created_at)
    return RunSummary(run_id=current.run_id, status=current.status, progress=current.progress,
                      created_at=current.created_at, finished_at=finished, trigger=current.trigger,
                      changed=changed_items(current, previous))


def _summaries(records: list[RunRecord], now: float) -> list[RunSummary]:
    """Each run of `records` (newest first) summarised against the one after it in the list."""
    views = [view(record, now) for record in records]
    return [summary(current, views[index + 1] if index + 1 < len(views) else None)
            for index, current in enumerate(views)]


def list_instances(deps: Deps, *, region: str | None = None, status: RunStatus | None = None,
                   limit: int = DEFAULT_PAGE, after: str | None = None) -> InstancePage:
    """Registered instances in id order from after `after`, each with its latest run; filtered by region and
    by the latest run's status. A filtered page reads at most MAX_SCANNED instances and may hold fewer than
    `limit`: `next` says where to go on."""
    limit = max(1, min(MAX_PAGE, limit))
    found: list[InstanceEntry] = []
    scanned = 0
    cursor = after
    now = deps.clock()
    filtered = region is not None or status is not None
    while True:  # a filtered listing reads whole pages: a few reads, whatever the limit
        page, more = deps.store.list_instances(cursor, MAX_PAGE if filtered else limit)
        scanned += len(page)
        wanted = [instance.instance_id for instance in page if region is None or instance.region == region]
        latest = deps.store.latest_runs(wanted, 2) if wanted else {}
        for index, instance in enumerate(page):
            if region is not None and instance.region != region:
                continue
            runs = _summaries(latest.get(instance.instance_id, []), now)[:1]
            entry = InstanceEntry(instance=instance, latest=runs[0] if runs else None)
            if status is not None and (entry.latest is None or entry.latest.status is not status):
                continue
            found.append(entry)
            if len(found) == limit:
                rest = index + 1 < len(page) or more is not None
                return InstancePage(instances=found, next=instance.instance_id if rest else None)
        if more is None:
            return InstancePage(instances=found, next=None)
        cursor = more
        if scanned >= MAX_SCANNED:
            return InstancePage(instances=found, next=cursor)


def instance_entry(instance_id: str, deps: Deps) -> InstanceEntry:
    instance = deps.store.get_instance(instance_id)
    if instance is None:
        raise NotFound(f"no registered instance {instance_id!r}")
    runs = _summaries(deps.store.latest_runs([instance_id], 2).get(instance_id, []), deps.clock())
    return InstanceEntry(instance=instance, latest=runs[0] if runs else None)


def history(instance_id: str, deps: Deps, *, limit: int = DEFAULT_PAGE, after: str | None = None) -> RunPage:
    """An instance's runs newest first, from the run before `after`; each says what changed since the run
    before it (one more run is read for the last one's comparison)."""
    limit = max(1, min(MAX_PAGE, limit))
    records, _ = deps.store.list_runs(instance_id, after, limit + 1)
    if not records and after is None and deps.store.get_instance(instance_id) is None:
        raise NotFound(f"no registered instance {instance_id!r}")
    listed = _summaries(records, deps.clock())[:limit]
    rest = len(records) > limit
    return RunPage(runs=listed, next=listed[-1].run_id if rest and listed else None)
