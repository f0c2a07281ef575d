"""Every read of `get_last_result` (the console's files aside), dispatched by route: the latest run and one
run (settled as `service.last_result` settles it), a run's diff against the run before and its fix script,
the fleet and an instance's runs (`precheck.history`), the local sink's events.

Each route imports what it needs when it is asked (issue 16): `precheck check` reads its run through the
get_run route, with the items still running, and the function's cold start in FC pays for the route it
serves, not for the fleet's models, the diff or the fix script's T-SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .deps import Deps
from .models import RunView
from .ports import NotFound, RunRecord
from .service import last_result, settle, view

if TYPE_CHECKING:
    from .diff import RunDiff
    from .queries import Query


def _record(instance_id: str, run_id: str, deps: Deps) -> RunRecord:
    record = deps.store.get_run(instance_id, run_id)
    if record is None:
        if deps.store.get_instance(instance_id) is None:
            raise NotFound(f"no registered instance {instance_id!r}")
        raise NotFound(f"instance {instance_id!r} has no run {run_id!r} (runs are kept 90 days)")
    return record


def run_view(instance_id: str, run_id: str, deps: Deps) -> RunView:
    """One run, as `last_result` shows the latest (settled: an item past the deadline is stored TIMED_OUT)."""
    now = deps.clock()
    return view(settle(_record(instance_id, run_id, deps), deps, now), now)


def _previous(instance_id: str, run_id: str, deps: Deps, now: float) -> RunView | None:
    runs, _ = deps.store.list_runs(instance_id, run_id, 1)
    return view(runs[0], now) if runs else None


def run_diff(instance_id: str, run_id: str, deps: Deps) -> RunDiff:
    """What changed between a run and the run before it."""
    from .diff import diff_runs

    current = run_view(instance_id, run_id, deps)
    return diff_runs(current, _previous(instance_id, run_id, deps, deps.clock()))


def run_fix_script(instance_id: str, run_id: str, deps: Deps) -> str:
    """The whole run's fix script (text/plain)."""
    from .fixscript import fix_script

    current = run_view(instance_id, run_id, deps)
    return fix_script(current, deps.clock())


def read(query: Query, deps: Deps) -> Any:
    """What a GET route of `get_last_result` answers (the console's routes aside): a JSON body, or the text of
    a fix script (str). Listings' cursors go out as the opaque tokens of `precheck.paging`."""
    instance_id, run_id = query.instance_id or "", query.run_id or ""
    if query.action == "last_result":
        return last_result(instance_id, deps)
    if query.action == "get_run":
        return run_view(instance_id, run_id, deps)
    if query.action == "diff":
        return run_diff(instance_id, run_id, deps).answer()
    if query.action == "fix_script":
        return run_fix_script(instance_id, run_id, deps)
    if query.action in ("list_instances", "get_instance", "history"):
        return _listing(query, deps)
    if query.action == "events":
        from .event_feed import latest

        return latest(deps.events_to, deps.events_file, query.limit)
    raise ValueError(f"get_last_result has no read {query.action!r}")


def _listing(query: Query, deps: Deps) -> Any:
    """The fleet, an instance, an instance's runs (`precheck.history`)."""
    from .history import history, instance_entry, list_instances
    from .paging import encode_token

    instance_id = query.instance_id or ""
    if query.action == "list_instances":
        fleet = list_instances(deps, region=query.region, status=query.status, limit=query.limit, after=query.after)
        return {"instances": [entry.model_dump(mode="json") for entry in fleet.instances],
                "next": encode_token("instances", fleet.next) if fleet.next else None}
    if query.action == "history":
        page = history(instance_id, deps, limit=query.limit, after=query.after)
        return {"runs": [run.model_dump(mode="json") for run in page.runs],
                "next": encode_token(f"runs:{instance_id}", page.next) if page.next else None}
    return instance_entry(instance_id, deps)
