"""Check items: one module each, discovered, never listed by hand.

A check item is a module in this package that defines `ITEM = CheckItem(...)`. Adding a module here (and
its thin folder `functions/check_<name>/`) is all it takes for `start_precheck` to fan out to it.
Check logic is pure: it talks to the world only through the probes in `CheckContext`, which are
interfaces (`precheck.ports`); it imports no SDK and no driver.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..frozen import Frozen, Record
from ..models import AffectedDatabase, Instance, ItemStatus

if TYPE_CHECKING:
    from ..interfaces import Assistant, OssProbe, SecretResolver, SqlConnector
    from ..ports import NetworkProbe


class Probes(Frozen):
    """The ways a check may look at the world. Built lazily: a check pays only for what it uses.

    Frozen (precheck.frozen), written by hand rather than as a dataclass: every check function imports this
    module, and generating a dataclass costs a cold start 0.3-0.5 ms a class (issue 16)."""

    __slots__ = ("network", "oss", "sql", "secrets", "assistant", "local")
    network: Callable[[], NetworkProbe]
    oss: Callable[[], OssProbe]
    sql: Callable[[], SqlConnector]
    secrets: Callable[[], SecretResolver]
    #: runs the network probe on the instance's ECS host (the network items, when it names one)
    assistant: Callable[[], Assistant] | None
    #: the checks run on this machine (the command line, the local API), not in FC: advice names this machine's
    #: network and the `precheck` process's environment instead of a function's VPC, vSwitch and role
    local: bool

    def __init__(self, network: Callable[[], NetworkProbe], oss: Callable[[], OssProbe],
                 sql: Callable[[], SqlConnector], secrets: Callable[[], SecretResolver],
                 assistant: Callable[[], Assistant] | None = None, local: bool = False) -> None:
        self._init(network=network, oss=oss, sql=sql, secrets=secrets, assistant=assistant, local=local)

    def for_invocation(self) -> Probes:
        """These probes with one secret resolver for the whole invocation: a secret (a KMS call) is read at
        most once per invocation and never kept past it."""
        made: list[SecretResolver] = []

        def secrets() -> SecretResolver:
            if not made:
                made.append(self.secrets())
            return made[0]

        return self.replace(secrets=secrets)


class CheckContext(Record):
    """What a check runs with: its instance, its probes and its time (Record: a dataclass's behaviour, by hand)."""

    __slots__ = ("instance", "probes", "started", "time_limit", "margin")
    instance: Instance
    probes: Probes
    started: float  # time.monotonic() when the item started
    time_limit: float  # seconds
    #: kept back from every probe, so a probe that gives up at its timeout still reports before the runner's
    #: own time limit cuts the item off as TIMED_OUT
    margin: float

    def __init__(self, instance: Instance, probes: Probes, started: float, time_limit: float,
                 margin: float = 0.25) -> None:
        self.instance = instance
        self.probes = probes
        self.started = started
        self.time_limit = time_limit
        self.margin = margin

    def remaining(self) -> float:
        return max(0.0, self.time_limit - self.margin - (time.monotonic() - self.started))


class Verdict(Record):
    """What a check concludes; the runner adds item, code, timing and size limits."""

    __slots__ = ("status", "message", "affected", "advice", "details")
    status: ItemStatus
    message: str
    affected: list[AffectedDatabase]
    advice: str
    details: dict[str, Any]

    def __init__(self, status: ItemStatus, message: str, affected: list[AffectedDatabase] | None = None,
                 advice: str = "", details: dict[str, Any] | None = None) -> None:
        self.status = status
        self.message = message
        self.affected = [] if affected is None else affected  # a new list and dict each (no shared default)
        self.advice = advice
        self.details = {} if details is None else details


class CheckItem(Frozen):
    """A check item: what `ITEM = CheckItem(...)` in an item module declares."""

    __slots__ = ("name", "code", "title", "order", "run", "reads_secrets", "runs_on_host")
    name: str  # the item's id, e.g. "recovery_mode"; its function is check_<name>
    code: str  # the code HBR's console and API use for the same item
    title: str
    order: int  # position in reports
    run: Callable[[CheckContext], Verdict]
    #: the item reads the instance's password (`ctx.probes.secrets()`): its function runs in the service whose
    #: role may read KMS secrets (layout.SQL_SERVICE), and only such items' functions do
    reads_secrets: bool
    #: the item may run commands on the instance's ECS host (Cloud Assistant, `ctx.probes.assistant()`): its
    #: function runs in the service whose role alone may (layout.NET_SERVICE), and only such items' functions do
    runs_on_host: bool

    def __init__(self, name: str, code: str, title: str, order: int, run: Callable[[CheckContext], Verdict],
                 reads_secrets: bool = False, runs_on_host: bool = False) -> None:
        self._init(name=name, code=code, title=title, order=order, run=run, reads_secrets=reads_secrets,
                   runs_on_host=runs_on_host)

    @property
    def function_name(self) -> str:
        return function_name(self.name)


def function_name(item: str) -> str:
    return f"check_{item}"


_ITEMS: dict[str, CheckItem] | None = None


def all_items() -> list[CheckItem]:
    """Every check item in this package, in report order."""
    global _ITEMS
    if _ITEMS is None:
        import pkgutil  # only the discovery needs it: a check function never calls this (cold start)

        found: dict[str, CheckItem] = {}
        for module in pkgutil.iter_modules(__path__):
            if module.name.startswith("_"):
                continue
            item = getattr(importlib.import_module(f"{__name__}.{module.name}"), "ITEM", None)
            if isinstance(item, CheckItem):
                found[item.name] = item
        _ITEMS = dict(sorted(found.items(), key=lambda pair: (pair[1].order, pair[0])))
    return list(_ITEMS.values())


def skip_reason(instance: Instance, item: CheckItem) -> str | None:
    """Why `item` is not run for `instance` (its SKIPPED message), or None when it runs."""
    if item.name in instance.skip_items:
        return "skipped: the instance's skip_items lists this item"
    return None
