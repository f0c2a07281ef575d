"""SQL_SERVER_DB_IN_PSEUDO_SIMPLE_RECOVERY_MODE: databases in FULL or BULK_LOGGED recovery whose log chain has
not started, so every log backup fails until a full backup is taken.

"Minimally, you must have created at least one full backup before you can create any log backups"
(https://learn.microsoft.com/sql/relational-databases/backup-restore/transaction-log-backups-sql-server); BACKUP
LOG is refused then (error 4214, "BACKUP LOG cannot be performed because there is no current database backup").
Such a database has no log backup LSN: sys.database_recovery_status.last_log_backup_lsn (numeric(25,0)) is
"NULL = No log backup exists" (https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-recovery-status-transact-sql),
the state DBAs call pseudo-simple: a database switched to FULL (or created FULL) without a full backup since.
The view shows a login the rows sys.databases shows it (same page: the owner, VIEW ANY DATABASE, ALTER ANY
DATABASE or CREATE DATABASE in master), so read_catalog's visibility rules hold for it.

Checked: ONLINE user databases in FULL or BULK_LOGGED recovery. Left out: system databases (as recovery_mode
does), databases not ONLINE (database_status reports them; the view has NULL for a database that is offline),
warm standbys (restore targets), and availability databases (joining a group needs a full backup and FULL
recovery, which a member keeps: https://learn.microsoft.com/sql/database-engine/availability-groups/windows/prereqs-restrictions-recommendations-always-on-availability).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError
from ..tsql import comment, quote_name
from . import CheckContext, CheckItem, Verdict
from ._databases import Database, names
from ._reads import read_catalog_and
from ._sql import SYSTEM_DATABASES, DatabaseCatalog, cannot_read, verdict

if TYPE_CHECKING:
    from ..interfaces import SqlSession

# 1 when the log chain has started (a log backup LSN exists); only the candidates' rows are asked for
RECOVERY_STATUS_SQL = ("SELECT d.name, CASE WHEN rs.last_log_backup_lsn IS NULL THEN 0 ELSE 1 END AS log_chain "
                       "FROM sys.databases AS d "
                       "JOIN sys.database_recovery_status AS rs ON rs.database_id = d.database_id "
                       "WHERE d.source_database_id IS NULL AND d.state_desc = 'ONLINE' "
                       "AND d.recovery_model_desc IN ('FULL', 'BULK_LOGGED')")

ADVICE = ("Take a full backup of each now, with the backup service (a full backup it takes is also the base of its "
          "later backups): it starts the log chain, and log backups work from then on. Until then BACKUP LOG fails "
          "(error 4214) and SQL Server truncates the log at each checkpoint as in SIMPLE recovery, so no "
          "point-in-time restore is possible. A full backup taken by another tool starts the chain too, but becomes "
          "the base of the differential backups that follow it.")
UNKNOWN_ADVICE = ("sys.database_recovery_status had no row for them (a database dropped or taken offline while the "
                  "check ran?): run the precheck again; if it persists, read their last_log_backup_lsn in that view "
                  "as this login.")


def candidate(db: Database) -> bool:
    """Whether `db` is one this item checks (the module docstring says why the others are left out)."""
    return (db.name not in SYSTEM_DATABASES and db.recovery_model in ("FULL", "BULK_LOGGED")
            and db.state == "ONLINE" and not db.standby and not db.in_availability_group)


def fix(db: Database) -> str:
    """The full backup that starts the chain, as a template: where it goes is the DBA's choice."""
    return "\n".join([comment(f"{db.name}: start the log chain with a full backup (the backup service's, or this "
                              "one with your path)"),
                      comment(f"BACKUP DATABASE {quote_name(db.name)} TO DISK = N'<path>.bak' WITH CHECKSUM;")])


def _chains(session: SqlSession, catalog: DatabaseCatalog) -> dict[str, bool]:
    if not any(candidate(db) for db in catalog.databases):
        return {}
    return {row["name"]: bool(row["log_chain"]) for row in session.query(RECOVERY_STATUS_SQL)}


def run(ctx: CheckContext) -> Verdict:
    try:
        catalog, chains = read_catalog_and(ctx, _chains)
    except PrecheckError as error:
        return cannot_read(error, ctx)
    candidates = [db for db in catalog.databases if candidate(db)]
    found = [db for db in candidates if chains.get(db.name) is False]
    unknown = [db for db in candidates if db.name not in chains]
    caveats = ([(f"the log backup state of {len(unknown)} database(s) could not be read ({names(unknown)})",
                 UNKNOWN_ADVICE)] if unknown else [])
    return verdict(
        ctx, catalog,
        found=[AffectedDatabase(name=db.name, state=db.state, recovery_model=db.recovery_model,
                                reason="no full backup since its recovery model was set: no log chain",
                                fix=fix(db)) for db in found],
        finding_status=ItemStatus.WARNING,
        finding_message=(f"{len(found)} database(s) in FULL or BULK_LOGGED recovery have no log chain (no full "
                         "backup yet): their log backups fail until one is taken"),
        finding_advice=ADVICE,
        clean_message="every user database in FULL or BULK_LOGGED recovery has its log chain",
        visible_clean_message="every visible user database in FULL or BULK_LOGGED recovery has its log chain",
        caveats=caveats)


ITEM = CheckItem(name="pseudo_simple", code="SQL_SERVER_DB_IN_PSEUDO_SIMPLE_RECOVERY_MODE",
                 title="FULL databases without a log chain", order=44, run=run, reads_secrets=True)
