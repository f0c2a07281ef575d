"""Which store, invoker and probes the handlers get: chosen by configuration, never by the handlers.

Environment:
  PRECHECK_STORE    sqlite:///path/to/precheck.db (default: sqlite under PRECHECK_HOME, ~/.precheck)
                    or tablestore: (see the Tablestore store for its own variables)
  PRECHECK_INVOKER  inprocess (default) or fc
  PRECHECK_DEADLINE_GRACE_S  seconds beyond the item time limit before missing items are TIMED_OUT
Adapters are imported only when first used, so a function pays only for the SDKs it needs.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .checks import Probes
from .models import env_float

if TYPE_CHECKING:  # the service (and its models) is not needed by the check functions: keep it off their import
    from .service import Deps

_lock = threading.RLock()
_deps: Optional[Deps] = None


def default_store_url() -> str:
    home = Path(os.environ.get("PRECHECK_HOME") or Path.home() / ".precheck")
    return f"sqlite:///{home / 'precheck.db'}"


def make_store(url: Optional[str] = None):
    url = url or os.environ.get("PRECHECK_STORE") or default_store_url()
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        from .adapters.sqlite_store import SqliteResultStore

        return SqliteResultStore.from_url(url)
    if scheme == "tablestore":
        from .adapters.tablestore_store import TablestoreResultStore

        return TablestoreResultStore.from_url(url)
    raise ValueError(f"unknown store {scheme!r} in PRECHECK_STORE (use sqlite:... or tablestore:...)")


def make_invoker(kind: Optional[str] = None, context: Any = None):
    kind = kind or os.environ.get("PRECHECK_INVOKER", "inprocess")
    if kind == "inprocess":
        from .adapters.inprocess_invoker import InProcessInvoker
        from .layout import destination_of
        from .local import load_handler

        return InProcessInvoker(load_handler, destination_of)
    if kind == "fc":
        from .adapters.fc_invoker import FcInvoker

        return FcInvoker.from_context(context)
    raise ValueError(f"unknown invoker {kind!r} in PRECHECK_INVOKER (use inprocess or fc)")


def deps(context: Any = None) -> "Deps":
    """The process's dependencies, built once (FC keeps them across invocations of a warm instance)."""
    global _deps
    with _lock:
        if _deps is None:
            from .service import Deps

            _deps = Deps(store=make_store(), invoker=make_invoker(context=context),
                         grace_s=env_float("PRECHECK_DEADLINE_GRACE_S", 2.0))
        if context is not None:  # STS credentials rotate: every part takes each invocation's
            for part in (_deps.store, _deps.invoker):
                refresh = getattr(part, "refresh", None)
                if refresh is not None:
                    refresh(context)
        return _deps


def use(new: Optional["Deps"]) -> None:
    """Install (or, with None, forget) the dependencies: for the command line, the local API and tests."""
    global _deps
    with _lock:
        _deps = new


def probes(context: Any = None) -> Probes:
    def network():
        from .adapters.network import SocketNetworkProbe

        return SocketNetworkProbe()

    def oss():
        from .adapters.credentials import Credentials
        from .adapters.oss import Oss2BucketProbe

        return Oss2BucketProbe(Credentials.from_context(context))

    def sql():
        from .adapters.sqlserver import PyodbcConnector

        return PyodbcConnector()

    def secrets():
        from .adapters.credentials import EnvSecretResolver

        return EnvSecretResolver()

    return Probes(network=network, oss=oss, sql=sql, secrets=secrets)
