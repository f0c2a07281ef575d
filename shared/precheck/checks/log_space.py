"""SQL_SERVER_DB_LOG_NEARLY_FULL: transaction logs nearly full, or held by something a log backup does not clear.

A full log stops every change to its database (error 9002) and a log backup can only free what nothing else
holds. Two reads:

* sys.databases.log_reuse_wait_desc, "what is currently delaying truncation of the transaction log"
  (https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql; the
  values: https://learn.microsoft.com/sql/relational-databases/logs/the-transaction-log-sql-server, "Factors that
  can delay log truncation"). LOG_BACKUP is cleared by the next log backup and CHECKPOINT, ACTIVE_BACKUP_OR_RESTORE,
  DATABASE_SNAPSHOT_CREATION, LOG_SCAN, OLDEST_PAGE, XTP_CHECKPOINT, SLOG_SCAN and OTHER_TRANSIENT by SQL Server
  itself; the ones in HOLDERS are not, and are named whatever the log's size.
* the Databases object's counters "Log File(s) Size (KB)" and "Log File(s) Used Size (KB)" in
  sys.dm_os_performance_counters, one row per database (instance_name, nchar(128): the name padded with spaces)
  (https://learn.microsoft.com/sql/relational-databases/performance-monitor/sql-server-databases-object,
  https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-os-performance-counters-transact-sql),
  on every version from 2008 R2. Reading them needs VIEW SERVER STATE (SQL Server 2022: VIEW SERVER PERFORMANCE
  STATE, which VIEW SERVER STATE covers); without it the item says so and gives the GRANT (never PASSED). A log
  used above the instance's settings.log_space_percent (90 by default) is nearly full.

tempdb is left out (never backed up), and databases not ONLINE (no counters; database_status names them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..fixes import guarded
from ..frozen import Frozen
from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError, SqlError
from ..tsql import comment, quote_name, quote_string
from . import CheckContext, CheckItem, Verdict
from ._databases import Database, names
from ._reads import read_catalog_and
from ._sql import DatabaseCatalog, cannot_read, verdict

if TYPE_CHECKING:
    from ..interfaces import SqlSession

# only the databases whose log waits for something (NOTHING is the rule): a small answer on a huge instance
REUSE_SQL = ("SELECT name, log_reuse_wait_desc FROM sys.databases "
             "WHERE source_database_id IS NULL AND log_reuse_wait_desc <> N'NOTHING'")
# one row per database, its name without nchar's padding (a fourth of the bytes of the raw rows on the wire);
# grouped by the counters' own column, not joined to sys.databases: a DMV's and a catalog view's collations
# may differ (error 468)
COUNTERS_SQL = ("SELECT RTRIM(instance_name) AS name, "
                "MAX(CASE WHEN counter_name = N'Log File(s) Size (KB)' THEN cntr_value END) AS size_kb, "
                "MAX(CASE WHEN counter_name = N'Log File(s) Used Size (KB)' THEN cntr_value END) AS used_kb "
                "FROM sys.dm_os_performance_counters "
                "WHERE object_name LIKE N'%:Databases%' "
                "AND counter_name IN (N'Log File(s) Size (KB)', N'Log File(s) Used Size (KB)') "
                "GROUP BY instance_name")

#: what holds the log that a log backup does not release, and what does
HOLDERS = {
    "ACTIVE_TRANSACTION": "an open or long-running transaction holds the log: find it (DBCC OPENTRAN in the "
                          "database) and let it commit, or end its session; a log backup cannot free what it holds",
    "REPLICATION": "transactional replication or change data capture has not read the log yet: start the Log "
                   "Reader Agent (or the CDC capture job) and let it catch up, or remove replication the database "
                   "no longer needs",
    "AVAILABILITY_REPLICA": "a secondary replica of its availability group has not received or redone the log: "
                            "check the replica's synchronization (sys.dm_hadr_database_replica_states) and its "
                            "network, and resume data movement if it is suspended",
    "DATABASE_MIRRORING": "database mirroring has not sent the log to the mirror: resume the mirroring session "
                          "(ALTER DATABASE ... SET PARTNER RESUME) or fix the mirror's connection",
}
FULL_ADVICE = ("A nearly full log stops every change once full (error 9002): let the backup service's log backups "
               "run (in FULL or BULK_LOGGED recovery they free the log), and give the log room: grow its file or "
               "let it autogrow (sys.master_files shows its size, max_size and growth).")


class LogUse(Frozen):
    __slots__ = ("size_kb", "used_kb")
    size_kb: int
    used_kb: int

    def __init__(self, size_kb: int, used_kb: int) -> None:
        set_ = object.__setattr__  # one per database: no keyword loop (frozen.Frozen)
        set_(self, "size_kb", size_kb)
        set_(self, "used_kb", used_kb)

    @property
    def percent(self) -> float:
        return 100.0 * self.used_kb / self.size_kb if self.size_kb else 0.0

    def describe(self) -> str:
        return f"log {self.percent:.1f}% used ({self.used_kb / 1024:.0f} of {self.size_kb / 1024:.0f} MB)"


class LogReads(Frozen):
    __slots__ = ("waits", "usage", "unreadable")
    waits: dict[str, str]  # key(name) -> log_reuse_wait_desc
    usage: dict[str, LogUse]  # key(name) -> its log's use
    unreadable: str | None  # the server's reason the counters could not be read

    def __init__(self, waits: dict[str, str], usage: dict[str, LogUse], unreadable: str | None = None) -> None:
        self._init(waits=waits, usage=usage, unreadable=unreadable)


def key(name: str) -> str:
    """A name as the default collation compares it (case-insensitive, trailing spaces ignored): the counters'
    instance_name comes padded with spaces to 128 characters."""
    return name.rstrip(" ").casefold()


def read_logs(session: SqlSession, catalog: DatabaseCatalog) -> LogReads:
    waits = {key(str(row["name"])): str(row["log_reuse_wait_desc"] or "NOTHING").upper()
             for row in session.query(REUSE_SQL)}
    try:
        rows = session.query(COUNTERS_SQL)
    except SqlError as error:
        if error.kind != "query":
            raise
        return LogReads(waits, {}, unreadable=error.message)
    return LogReads(waits, {key(str(row["name"])): LogUse(int(row["size_kb"]), int(row["used_kb"])) for row in rows
                            if row["size_kb"] is not None and row["used_kb"] is not None})


def fix(db: Database, wait: str | None, nearly_full: bool) -> str:
    """Read-only statements that show what holds the log (nothing here changes the database), none of them
    changing the session's database either (a run's fix script goes on with other items' statements)."""
    lines = [comment(f"{db.name}: what holds its log")]
    if wait == "ACTIVE_TRANSACTION":  # DBCC OPENTRAN ( database_name ): https://learn.microsoft.com/sql/t-sql/database-console-commands/dbcc-opentran-transact-sql
        lines += [f"DBCC OPENTRAN ({quote_string(db.name)});  -- the oldest active transaction and its session"]
    elif wait == "REPLICATION":
        lines += ["EXEC sp_replcounters;  -- replicated transactions waiting for the Log Reader Agent"]
    elif wait == "AVAILABILITY_REPLICA":
        lines += ["SELECT replica_id, synchronization_state_desc, log_send_queue_size, redo_queue_size "
                  "FROM sys.dm_hadr_database_replica_states "
                  f"WHERE database_id = DB_ID({quote_string(db.name)});"]
    elif wait == "DATABASE_MIRRORING":
        lines += ["SELECT mirroring_state_desc FROM sys.database_mirroring "
                  f"WHERE database_id = DB_ID({quote_string(db.name)});"]
    if nearly_full:
        lines += ["SELECT name, size / 128 AS size_mb, max_size, growth FROM sys.master_files "
                  f"WHERE database_id = DB_ID({quote_string(db.name)}) AND type_desc = N'LOG';  "
                  "-- its log files: grow one with ALTER DATABASE ... MODIFY FILE if it cannot grow"]
    return guarded("\n".join(lines))  # a name holding a line break: only comments (fixes.guarded)


def run(ctx: CheckContext) -> Verdict:
    threshold = ctx.instance.settings.log_space_percent
    try:
        catalog, logs = read_catalog_and(ctx, read_logs)
    except PrecheckError as error:
        return cannot_read(error, ctx)
    checked = [db for db in catalog.databases if db.name.casefold() != "tempdb" and db.state == "ONLINE"]
    found, reasons, full = [], set(), 0
    for db in checked:
        wait = logs.waits.get(key(db.name), "NOTHING")
        held = wait if wait in HOLDERS else None
        use = logs.usage.get(key(db.name))
        nearly_full = use is not None and use.percent >= threshold
        if not held and not nearly_full:
            continue
        reasons |= {held} if held else set()
        full += nearly_full
        parts = ([use.describe()] if use is not None else []) + [f"log_reuse_wait_desc {wait}"]
        found.append(AffectedDatabase(name=db.name, state=db.state, recovery_model=db.recovery_model,
                                      reason=", ".join(parts), fix=fix(db, held, nearly_full)))
    advice = " ".join([f"{wait}: {HOLDERS[wait]}." for wait in sorted(reasons)] + ([FULL_ADVICE] if full else []))
    caveats = []
    if logs.unreadable:
        login = quote_name(ctx.instance.user)
        caveats.append((f"login '{ctx.instance.user}' cannot read the log counters ({logs.unreadable}), so how full "
                        "each log is is unknown",
                        f"Grant it (in master): GRANT VIEW SERVER STATE TO {login}; (on SQL Server 2022 and later "
                        f"GRANT VIEW SERVER PERFORMANCE STATE TO {login}; is the least)."))
    else:
        missing = [db for db in checked if key(db.name) not in logs.usage]
        if missing:
            caveats.append((f"{len(missing)} database(s) had no log counters ({names(missing)})",
                            "Run the precheck again; a database just created or brought online may not have its "
                            "counters yet."))
    result = verdict(
        ctx, catalog, found=found, finding_status=ItemStatus.WARNING,
        finding_message=(f"{len(found)} database(s) have a log over {threshold:g}% full or held by something a log "
                         "backup does not clear"),
        finding_advice=advice,
        clean_message=f"every log is under {threshold:g}% full and none is held beyond what log backups clear",
        visible_clean_message=(f"every visible log is under {threshold:g}% full and none is held beyond what log "
                               "backups clear"),
        caveats=caveats)
    result.details.update({"threshold_percent": threshold, "log_usage_readable": logs.unreadable is None})
    return result


ITEM = CheckItem(name="log_space", code="SQL_SERVER_DB_LOG_NEARLY_FULL",
                 title="Transaction logs nearly full or held", order=84, run=run, reads_secrets=True)
