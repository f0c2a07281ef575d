"""The command line's session: settings read once, the embedded wiring, the functions it calls, and the
errors every command raises (UsageError: exit 2; Failed: exit 1). The `precheck` commands import it; it
imports none of them."""

from __future__ import annotations

import errno
import weakref
from typing import TYPE_CHECKING, Any

from .pydanticlean import without_pydantic_plugins as without_pydantic_plugins  # re-exported: cli.py

if TYPE_CHECKING:
    from .deps import Deps
    from .local import Functions
    from .settings import Settings


class UsageError(Exception):
    """The command line or the configuration is wrong: said on one line, exit 2."""


class Failed(Exception):
    """The command could not do its work (the store is unreachable, a request was refused): exit 1."""


class Session:
    """The command line's wiring: settings read once, the embedded invoker, the functions it calls."""

    def __init__(self, settings: Settings):
        from . import wiring

        self.settings = settings.with_(invoker="inprocess")
        self.deps: Deps = wiring.build(self.settings)
        self.functions: Functions = wiring.functions(self.settings)
        wiring.use(self.deps)
        _opened.add(self)

    def check_store(self) -> None:
        """Open the result store and read from it once, so a wrong PRECHECK_STORE, missing credentials or an
        unreachable or refusing store is said as it is (the API answers only "unavailable")."""
        import sqlite3

        from .ports import StoreError

        try:  # one read by key (a GetRow on Tablestore), of an instance that is never registered
            self.deps.store.get_instance("precheck-cli-probe")
        except ValueError as error:  # the store's URL or its settings: named, never a value
            raise UsageError(f"configuration: {error}") from None
        except StoreError as error:
            raise Failed(f"the result store ({self.settings.store_kind}) failed: {error.message}") from None
        except (OSError, sqlite3.Error) as error:  # a SQLite file that cannot be created, opened or read
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise Failed(f"the result store {self.settings.store_url} cannot be used: {reason} (PRECHECK_STORE "
                         "names it; the default is sqlite:///$PRECHECK_HOME/precheck.db)") from None

    def call_api(self, method: str, path: str, body: dict | None = None,
                 query: dict[str, str] | None = None) -> tuple[int, dict]:
        """A request of the HTTP API, answered by the function its route names (as `precheck serve` does)."""
        answer = self.functions.request(method, path, body, query=query)
        try:
            return answer.statusCode, answer.json_body()
        except ValueError:
            return answer.statusCode, {"error": answer.body[:300]}

    def preload(self, method: str, path: str) -> None:
        """Load the function that answers `method path` now: called once runs are started, its imports run
        while the items wait on their servers, not after the last one ends (about 6 ms of a `check`)."""
        from .layout import match

        found = match(method, path)
        if found.route is not None:
            self.functions.load(found.route.function)

    def get(self, path: str, query: dict[str, str] | None = None) -> dict:
        """The JSON body of a GET that must succeed; `Failed` with the API's own message otherwise."""
        status, body = self.call_api("GET", path, query=query)
        if status != 200:
            raise Failed(str(body.get("error") or f"HTTP {status}"))
        return body

    def get_text(self, path: str) -> str:
        answer = self.functions.request("GET", path)
        if answer.statusCode != 200:
            try:
                message = answer.json_body().get("error")
            except ValueError:
                message = None
            raise Failed(str(message or f"HTTP {answer.statusCode}"))
        return answer.body

    def last_result(self, instance_id: str) -> tuple[int, dict]:
        return self.call_api("GET", f"/instances/{instance_id}/prechecks/latest")

    def drain(self, timeout: float) -> bool:
        drain = getattr(self.deps.invoker, "drain", None)
        return True if drain is None else bool(drain(timeout))


#: the sessions this process opened (weakly: a test's sessions go when it ends), for `invokers_idle`
_opened: weakref.WeakSet[Session] = weakref.WeakSet()


def invokers_idle() -> bool:
    """Whether no session's invoker has an invocation (or its destination) still running."""
    return all(opened.drain(0) for opened in list(_opened))


def load_settings() -> Settings:
    from .settings import Settings, SettingsError

    try:
        return Settings.from_environ()
    except SettingsError as error:
        raise UsageError(f"configuration: {error}") from None


def session(check_store: bool = True) -> Session:
    opened = Session(load_settings())
    if check_store:
        opened.check_store()
    return opened


def open_api(host: str, port: int, functions: Functions) -> Any:  # a LocalApi, imported lazily
    """The local API on host:port; a port in use (or not allowed) is a usage error naming --port."""
    from .localapi import LocalApi

    try:
        return LocalApi(host, port, functions)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is already in use: stop what listens there, or choose "
                             "another with --port N (0: any free port)") from None
        if error.errno in (errno.EACCES, errno.EPERM):
            raise UsageError(f"not allowed to listen on port {port} of {host}: choose another with --port N") from None
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
