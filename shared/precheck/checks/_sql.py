"""Reading the database catalog of an instance, shared by the SQL check items.

The queries name no database: nothing a user controls is ever part of the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError
from . import CheckContext, Verdict

SYSTEM_DATABASES = frozenset({"master", "model", "msdb", "tempdb"})

DATABASES_SQL = "SELECT name, state_desc, recovery_model_desc FROM sys.databases"
VISIBILITY_SQL = "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DATABASE') AS can_view_all"


@dataclass
class DatabaseCatalog:
    databases: list[AffectedDatabase]
    complete: bool  # False when the login may not see every database


def read_catalog(ctx: CheckContext) -> DatabaseCatalog:
    """Connect as the instance's login and read every database it can see; raises PrecheckError."""
    instance = ctx.instance
    password = ctx.probes.secrets().resolve(instance.password_ref)
    session = ctx.probes.sql().connect(instance.sql_endpoint(), instance.user, password, timeout=ctx.remaining())
    try:
        rows = session.query(DATABASES_SQL)
        visibility = session.query(VISIBILITY_SQL)
    finally:
        session.close()
    databases = [
        AffectedDatabase(name=row["name"], state=row["state_desc"], recovery_model=row["recovery_model_desc"])
        for row in rows
    ]
    complete = bool(visibility and visibility[0].get("can_view_all") == 1)
    return DatabaseCatalog(databases=databases, complete=complete)


_CONNECT_ADVICE = {
    "login": "Check the login name and the password its password_ref points to; the login needs VIEW ANY DATABASE "
             "(or sysadmin) to see every database.",
    "dns": "Check the server name: it does not resolve from the function's VPC.",
    "refused": "Check that SQL Server listens on TCP at that address and port (SQL Server Configuration Manager, "
               "TCP/IP enabled) and that the security group allows the function's vSwitch.",
    "timeout": "The server accepted the connection but did not answer in time: check that it is a SQL Server, "
               "that it is not overloaded, and the instance's item time limit.",
    "dropped": "The connection was closed while reading: check the server's error log and network stability.",
    "config": "The login name or password holds '};', which the FreeTDS ODBC driver cannot take; change it.",
    "secret": "Set the password where the instance's password_ref points (an environment variable of the check "
              "functions).",
}


def cannot_read(error: PrecheckError, ctx: CheckContext) -> Verdict:
    """The check could not run: say why, without any secret."""
    endpoint = ctx.instance.sql_endpoint()
    return Verdict(
        ItemStatus.ERROR,
        f"cannot read the databases of {endpoint.host}:{endpoint.port}: {error.message}",
        advice=_CONNECT_ADVICE.get(error.kind, "Check that SQL Server is reachable and the login is valid."),
        details={"reason": error.kind},
    )


def verdict(ctx: CheckContext, catalog: DatabaseCatalog, *, found: list[AffectedDatabase],
            finding_status: ItemStatus, finding_message: str, finding_advice: str, clean_message: str,
            visible_clean_message: str) -> Verdict:
    """The verdict of a SQL item: its finding when `found` is not empty, PASSED otherwise; either way, a
    login that may not see every database says so (a clean result becomes a WARNING)."""
    details = {"databases_seen": len(catalog.databases), "complete": catalog.complete}
    if found:
        message, advice = finding_message, finding_advice
        if not catalog.complete:
            note, grant = incomplete_note(ctx)
            message, advice = f"{message}; {note}", f"{advice} {grant}"
        return Verdict(finding_status, message, affected=found, advice=advice, details=details)
    if not catalog.complete:
        note, grant = incomplete_note(ctx)
        return Verdict(ItemStatus.WARNING, f"{visible_clean_message}, but {note}", advice=grant, details=details)
    return Verdict(ItemStatus.PASSED, clean_message, details=details)


def incomplete_note(ctx: CheckContext) -> tuple[str, str]:
    user = ctx.instance.user
    return (
        f"login '{user}' lacks VIEW ANY DATABASE, so the result may be incomplete",
        f"Grant it: GRANT VIEW ANY DATABASE TO [{user.replace(']', ']]')}]; (or use a sysadmin login).",
    )
