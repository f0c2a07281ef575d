"""The interfaces the service layer and the checks depend on, and the domain errors behind them.

The interfaces (typing.Protocol classes, `ResultStore`, `SqlConnector`, ...) are defined in
`precheck.interfaces` and offered here too, loaded on first use. Each has a cloud implementation and an
embedded one (see `precheck.adapters`); the handlers never know which. Errors an adapter raises are the
domain errors below, never an SDK's own exception, and their messages never carry a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .frozen import Frozen

if TYPE_CHECKING:
    from .interfaces import Assistant as Assistant
    from .interfaces import EndMarks as EndMarks
    from .interfaces import EventSink as EventSink
    from .interfaces import Invoker as Invoker
    from .interfaces import OssProbe as OssProbe
    from .interfaces import Refreshable as Refreshable
    from .interfaces import ResultStore as ResultStore
    from .interfaces import Scheduler as Scheduler
    from .interfaces import SecretResolver as SecretResolver
    from .interfaces import SqlConnector as SqlConnector
    from .interfaces import SqlSession as SqlSession
    from .models import Endpoint
    from .portvalues import EndMark as EndMark
    from .portvalues import Invocation as Invocation
    from .portvalues import Recorded as Recorded
    from .portvalues import RunRecord as RunRecord

#: dataclasses the store and the assistant pass, defined in precheck.portvalues and loaded on first use: a check
#: function reaches none of them, and each dataclass costs its first invocation ~0.4 ms to generate (cold start)
_LATER = frozenset({"EndMark", "Invocation", "Recorded", "RunRecord"})
#: the Protocol classes, defined in precheck.interfaces and loaded on first use: a check function uses them only
#: as annotations, and creating the 11 classes cost each cold start ~0.3 ms
_INTERFACES = frozenset({"Assistant", "EndMarks", "EventSink", "Invoker", "OssProbe", "Refreshable", "ResultStore",
                         "Scheduler", "SecretResolver", "SqlConnector", "SqlSession"})


def __getattr__(name: str) -> Any:
    """`from precheck.ports import RunRecord` (and the other three) and `from precheck.ports import ResultStore`
    (and the other Protocols) as before, loaded on first use (PEP 562)."""
    if name in _LATER:
        from . import portvalues

        return getattr(portvalues, name)
    if name in _INTERFACES:
        from . import interfaces

        return getattr(interfaces, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PrecheckError(Exception):
    """Base of the errors adapters raise; `kind` is a short machine-readable reason."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class NotFound(Exception):
    """The instance (or its run) the caller names does not exist: a client error (404)."""


class ProbeError(PrecheckError):
    """A network or service probe failed: kind is dns, refused, timeout, unreachable, tls, ..."""


class SqlError(PrecheckError):
    """SQL Server could not be reached or queried. `kind` is one of: config, dns, refused, unreachable,
    timeout, browser, instance, encryption, certificate, tls, login, database, dropped, query
    (precheck.adapters.sqlserver says when each is raised; checks/_sql.py has the advice for each)."""


class StoreError(PrecheckError):
    """The result store failed; the event that caused the write must be retried."""


class SecretError(PrecheckError):
    """A password reference could not be resolved."""


class Connected(Frozen):
    """A TCP connection that opened: where to, and how long it took.

    A plain class that behaves as the frozen dataclass it was (the constructor, == and hash, the same repr,
    FrozenInstanceError on assignment): every check function imports this module, and generating a
    dataclass cost each cold start ~0.4 ms."""

    __slots__ = ("address", "connect_ms")
    address: str
    connect_ms: float

    def __init__(self, address: str, connect_ms: float):
        self._init(address=address, connect_ms=connect_ms)


class NetworkProbe(Protocol):
    """Resolves a host and opens (then closes) a TCP connection, within `timeout` seconds in all."""

    def connect(self, endpoint: Endpoint, timeout: float) -> Connected: ...


class AssistantError(PrecheckError):
    """The probe could not be run on the ECS instance. `kind` is one of: agent_not_running, instance_stopped,
    not_found, denied, throttled, host_timeout, limit, unsupported, unreachable, assistant (checks/_network.py
    has the advice for each; docs/cloud-assistant.md the ECS answers each comes from)."""


Clock = Callable[[], float]
