"""The fleet recheck, paced to the FC instances it may use, so no check waits in FC's queue.

FC runs at most a region's instance quota at once (100 by default per account and region, on-demand and
provisioned together: https://www.alibabacloud.com/help/en/function-compute/latest/auto-scaling); past it,
asynchronous invocations wait in FC's queue, and one that waits longer than its function's maximum event age
(`maxAsyncEventAgeInSeconds`, "the maximum validity period of a message": https://www.alibabacloud.com/help/en/
function-compute/latest/putfunctionasyncinvokeconfig; ASYNC_MAX_AGE_S in deploy/descriptors/spec.py) is
dropped. A nightly recheck that queued four checks per instance at once would see items reported TIMED_OUT
(or never run) for having waited, not for overrunning.

So the recheck is a chain of `start_precheck` invocations, one after the other ("links"): each keeps at most
`window_size` instances in flight (their checks, then their outcomes' `collect_outcome` deliveries, and the
link itself, all fit within `Deps.concurrency`), starts the next instance of the registry as soon as a run in
flight has every outcome (or is past its own deadline), and, before its function's time limit, hands its
cursor and the runs in flight to the next link. A run is created when its checks are invoked and they start
at once, so its deadline (item limit + grace, from its creation) measures the check, never a queue; a hung
check is still TIMED_OUT by its own limit. Links are stateful invocations named by the recheck's tag and
their number: a link delivered twice runs once, and starting an instance whose run is still RUNNING returns
that run; a link run again after a failure (FC's retry) skips an instance whose current run began since
the recheck did.
"""

from __future__ import annotations

from collections.abc import Callable

from .commands import RecheckPage
from .deps import Deps
from .ports import RunRecord

#: how long one link works before handing over (start_precheck's function timeout is 300 s)
LINK_S = 240.0
#: how often a link reads its runs in flight
POLL_S = 0.5

#: starts one instance: ("started" | "running" | "unknown" | "failed", the run's id when there is one)
StartOne = Callable[[str], tuple[str, str | None]]


def window_size(concurrency: int, items: int) -> int:
    """Instances in flight at once: each holds up to `items` FC instances (its checks, then its outcomes'
    deliveries), and the link holds one."""
    return max(1, (concurrency - 1) // max(1, items))


def first_link(tag: str, since: float) -> RecheckPage:
    return RecheckPage(paced=True, tag=tag[:64], link=0, since=since)


def run_link(page: RecheckPage, deps: Deps, start_one: StartOne) -> tuple[dict[str, int], RecheckPage | None]:
    """Work one link: what it started, and the next link (None once the registry is read and nothing is in
    flight)."""
    window = window_size(deps.concurrency, len(deps.items()))
    until = deps.clock() + LINK_S
    in_flight = dict(page.in_flight)
    after, done = page.after, page.done
    summary: dict[str, int] = {}
    while True:
        now = deps.clock()
        for instance_id, run_id in list(in_flight.items()):
            if _finished(deps.store.get_run(instance_id, run_id), now):
                del in_flight[instance_id]
        while len(in_flight) < window and not done:
            batch, after = deps.store.list_instances(after, window - len(in_flight))
            done = after is None
            for instance in batch:
                result, run = start_one(instance.instance_id)
                summary[result] = summary.get(result, 0) + 1
                if run is not None:
                    in_flight[instance.instance_id] = run
        if done and not in_flight:
            return summary, None
        if deps.clock() >= until:
            return summary, page.model_copy(update={"link": page.link + 1, "after": after, "done": done,
                                                    "in_flight": sorted(in_flight.items())})
        deps.sleep(POLL_S)


def _finished(record: RunRecord | None, now: float) -> bool:
    """A run no longer holds FC instances: every outcome stored, or past its deadline (nothing more comes)."""
    if record is None or now > record.run.deadline:
        return True
    return all(item in record.outcomes for item in record.run.items)
