"""SQL_SERVER_LOG_CHAIN_BROKEN_BY_OTHER_BACKUPS: log backups another tool takes break the chain the backup
service's log backups depend on.

Each log backup (not copy-only) truncates the log and becomes the next link of the database's single log chain:
one taken by another job, tool or user holds changes the backup service never sees, so its own log backups no
longer restore without that file ("copy-only backups ... do not affect the log chain", "a copy-only log backup
does not truncate the log": https://learn.microsoft.com/sql/relational-databases/backup-restore/copy-only-backups-sql-server).

Read from msdb's backup history (https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql:
type 'L' a log backup, is_copy_only, user_name "Name of the user performing the backup operation",
backup_finish_date, media_set_id; backupmediaset's software_name "Name of the backup software that wrote the
media label": https://learn.microsoft.com/sql/relational-databases/system-tables/backupmediaset-transact-sql),
over the instance's settings.log_chain_days (DATEADD on the server's own clock, as backup_finish_date is:
https://learn.microsoft.com/sql/t-sql/functions/dateadd-transact-sql). A backup is the backup service's when its
user_name or software_name is one of settings.backup_identities (case-insensitive); with none configured every
log backup counts as another tool's (before the service's first backup, any other log backup job will break its
chain). Reading the history takes SELECT on msdb.dbo.backupset and backupmediaset, which public lacks: without it
the item says so and gives the GRANTs (never PASSED).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..frozen import Frozen
from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError, SqlError
from ..tsql import comment, quote_name
from . import CheckContext, CheckItem, Verdict
from ._reads import read_catalog_and
from ._sql import DatabaseCatalog, cannot_read, verdict

if TYPE_CHECKING:
    from ..interfaces import SqlSession

# the window is a parameter (days); per database and taker: the latest log backup and how many
HISTORY_SQL = ("SELECT b.database_name, b.user_name, m.software_name, MAX(b.backup_finish_date) AS latest, "
               "COUNT(*) AS backups "
               "FROM msdb.dbo.backupset AS b JOIN msdb.dbo.backupmediaset AS m ON m.media_set_id = b.media_set_id "
               "WHERE b.type = 'L' AND b.is_copy_only = 0 AND b.backup_finish_date >= DATEADD(day, -?, GETDATE()) "
               "GROUP BY b.database_name, b.user_name, m.software_name")

ADVICE = ("Only one tool may take a database's log backups: find the job or tool named (SQL Server Agent jobs, "
          "maintenance plans, other backup software) and stop its log backups of these databases, or make them "
          "copy-only (BACKUP LOG ... WITH COPY_ONLY), which leaves the chain alone. If the named backups are the "
          "backup service's own, list their user or software name in the instance's settings.backup_identities.")


class Taker(Frozen):
    """Who took a database's log backups in the window: one group of HISTORY_SQL."""

    __slots__ = ("database", "user", "software", "latest", "backups")
    database: str
    user: str
    software: str
    latest: Any  # datetime from the driver
    backups: int

    def __init__(self, database: str, user: str, software: str, latest: Any, backups: int) -> None:
        set_ = object.__setattr__  # one per database and taker: no keyword loop (frozen.Frozen)
        set_(self, "database", database)
        set_(self, "user", user)
        set_(self, "software", software)
        set_(self, "latest", latest)
        set_(self, "backups", backups)

    def describe(self) -> str:
        latest = self.latest.isoformat(sep=" ", timespec="seconds") if isinstance(self.latest, datetime) else \
            str(self.latest)
        return f"{self.backups} log backup(s) by '{self.software}' as '{self.user}', the latest at {latest}"

    def ours(self, identities: list[str]) -> bool:
        wanted = {identity.strip().casefold() for identity in identities}
        return self.user.strip().casefold() in wanted or self.software.strip().casefold() in wanted


class History(Frozen):
    __slots__ = ("takers", "unreadable")
    takers: list[Taker]
    unreadable: str | None  # the server's reason, when the login may not read msdb's history

    def __init__(self, takers: list[Taker], unreadable: str | None = None) -> None:
        self._init(takers=takers, unreadable=unreadable)


def read_history(session: SqlSession, days: int) -> History:
    try:
        rows = session.query(HISTORY_SQL, (days,))
    except SqlError as error:
        if error.kind != "query":
            raise
        return History([], unreadable=error.message)
    return History([Taker(str(row["database_name"]), str(row["user_name"] or ""),
                          str(row["software_name"] or "unknown software"), row["latest"], int(row["backups"]))
                    for row in rows])


def key(name: str) -> str:
    return name.rstrip(" ").casefold()


def fix(name: str, taker: Taker) -> str:
    return "\n".join([
        comment(f"{name}: {taker.describe()} break the backup service's log chain."),
        comment("Stop that job's log backups of this database, or make them copy-only:"),
        comment(f"BACKUP LOG {quote_name(name)} TO <its destination> WITH COPY_ONLY;")])


def history_note(ctx: CheckContext, reason: str) -> tuple[str, str]:
    login = quote_name(ctx.instance.user)
    return (f"login '{ctx.instance.user}' cannot read msdb's backup history ({reason}), so log backups by other "
            "tools are unknown",
            f"Grant it SELECT on the two history tables (in msdb; CREATE USER only if the login has no user "
            f"there): USE msdb; CREATE USER {login} FOR LOGIN {login}; GRANT SELECT ON dbo.backupset TO {login}; "
            f"GRANT SELECT ON dbo.backupmediaset TO {login};")


def run(ctx: CheckContext) -> Verdict:
    settings = ctx.instance.settings
    days, identities = settings.log_chain_days, list(settings.backup_identities)

    def read(session: SqlSession, catalog: DatabaseCatalog) -> History:
        return read_history(session, days)

    try:
        catalog, history = read_catalog_and(ctx, read)
    except PrecheckError as error:
        return cannot_read(error, ctx)
    # names compare as the server's default collation does (case-insensitive, trailing spaces ignored)
    known = {key(db.name): db for db in catalog.databases}
    others: dict[str, list[Taker]] = {}
    for taker in history.takers:
        if key(taker.database) in known and not taker.ours(identities):
            others.setdefault(key(taker.database), []).append(taker)
    found = []
    for name, takers in others.items():
        takers.sort(key=lambda taker: str(taker.latest), reverse=True)
        more = f" (and {len(takers) - 1} other taker(s))" if len(takers) > 1 else ""
        db = known[name]
        found.append(AffectedDatabase(name=db.name, state=db.state, recovery_model=db.recovery_model,
                                      reason=takers[0].describe() + more, fix=fix(db.name, takers[0])))
    who = (f"another tool than the backup service ({', '.join(identities)})" if identities else
           "any tool (no backup identity is configured in settings.backup_identities, so every one counts)")
    result = verdict(
        ctx, catalog, found=found, finding_status=ItemStatus.WARNING,
        finding_message=(f"{len(found)} database(s) had log backups in the last {days} day(s) by {who}: they break "
                         "the log chain the backup service's log backups depend on"),
        finding_advice=ADVICE,
        clean_message=f"no log backup in the last {days} day(s) was taken by {who}",
        visible_clean_message=f"no visible database had a log backup in the last {days} day(s) by {who}",
        caveats=[history_note(ctx, history.unreadable)] if history.unreadable else [])
    result.details.update({"window_days": days, "backup_identities": identities[:16],
                           "history_readable": history.unreadable is None})
    return result


ITEM = CheckItem(name="log_chain", code="SQL_SERVER_LOG_CHAIN_BROKEN_BY_OTHER_BACKUPS",
                 title="Log backups by other tools", order=46, run=run, reads_secrets=True)
