"""The database catalog and an item's own reads in ONE session, for the items that read more than sys.databases
(pseudo_simple, log_chain, log_space): one login, not two.

`read_catalog` (checks/_sql.py) connects, reads and closes; here its session is held open past that close, the
item's reader runs on it, and only then is it closed. Everything else (the password kept out of errors, the
visibility rules) is read_catalog's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..sqltarget import SqlTarget
from . import CheckContext
from ._sql import DatabaseCatalog, read_catalog

if TYPE_CHECKING:
    from ..interfaces import SqlConnector, SqlSession

T = TypeVar("T")


class _Held:
    """A session whose close() waits for read_catalog_and's."""

    def __init__(self, session: SqlSession):
        self.session = session

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.session.query(sql, params)

    def close(self) -> None:
        pass


class _Holding:
    """A connector that keeps the sessions it opens for read_catalog_and to use and close."""

    def __init__(self, connector: SqlConnector):
        self.connector = connector
        self.opened: list[SqlSession] = []

    def connect(self, target: SqlTarget, user: str, password: str, timeout: float) -> SqlSession:
        session = self.connector.connect(target, user, password, timeout)
        self.opened.append(session)
        return _Held(session)


def read_catalog_and(ctx: CheckContext,
                     read: Callable[[SqlSession, DatabaseCatalog], T]) -> tuple[DatabaseCatalog, T]:
    """(the catalog read_catalog reads, `read(session, catalog)` on the same session); raises PrecheckError as
    read_catalog does, and whatever `read` raises (an item catches the failures it can explain)."""
    holding = _Holding(ctx.probes.sql())
    inner = ctx.replace(probes=ctx.probes.replace(sql=lambda: holding))
    try:
        catalog = read_catalog(inner)
        return catalog, read(holding.opened[0], catalog)
    finally:
        for session in holding.opened:
            session.close()
