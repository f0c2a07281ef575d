"""One SQL session for the items that read more than the database catalog (server_version, backup_permission,
ag_backup_preference): connect as the instance's login, and say why not without the password."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ..models import ItemStatus
from ..ports import PrecheckError
from . import CheckContext, Verdict
from ._sql import cannot_read

if TYPE_CHECKING:
    from ..interfaces import SqlSession

T = TypeVar("T")


def with_session(ctx: CheckContext, read: Callable[[SqlSession], T]) -> T:
    """`read(session)` on a session of the instance's login, closed afterwards; raises PrecheckError (a driver's
    message that quotes its connection string never shows the password, as in _sql.read_catalog)."""
    instance = ctx.instance
    password = ctx.probes.secrets().resolve(instance.password_ref)
    try:
        session = ctx.probes.sql().connect(instance.sql_target(), instance.user, password, timeout=ctx.remaining())
    except PrecheckError as error:
        if len(password) >= 4 and password in error.message:
            raise type(error)(error.kind, error.message.replace(password, "(password not shown)")) from None
        raise
    try:
        return read(session)
    finally:
        session.close()


def cannot_check(error: PrecheckError, ctx: CheckContext, what: str) -> Verdict:
    """ERROR: `what` could not be read; the reason and advice are those of the catalog items (_sql.cannot_read)."""
    verdict = cannot_read(error, ctx)
    return Verdict(ItemStatus.ERROR, f"cannot read {what} of {ctx.instance.sql_target()}: {error.message}",
                   advice=verdict.advice, details=verdict.details)
