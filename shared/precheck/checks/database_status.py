"""SQL_SERVER_DB_NOT_ONLINE: a database that is not ONLINE can be neither backed up nor recovered."""

from __future__ import annotations

from ..models import ItemStatus
from ..ports import PrecheckError
from . import CheckContext, CheckItem, Verdict
from ._sql import cannot_read, read_catalog, verdict

STATE_ADVICE = {
    "OFFLINE": "OFFLINE: bring it online with ALTER DATABASE <name> SET ONLINE, or exclude it from the backup plan.",
    "RESTORING": "RESTORING: finish the restore with RESTORE DATABASE <name> WITH RECOVERY (or complete the log "
                 "shipping/mirroring setup that left it restoring).",
    "RECOVERING": "RECOVERING: crash recovery is running; wait for it to finish and check the error log.",
    "RECOVERY_PENDING": "RECOVERY_PENDING: recovery could not start (missing or locked files, full disk, "
                        "permissions); fix the cause shown in the error log, then ALTER DATABASE <name> SET ONLINE.",
    "SUSPECT": "SUSPECT: recovery failed and the database may be damaged; run DBCC CHECKDB in EMERGENCY mode or "
               "restore it from a good backup.",
    "EMERGENCY": "EMERGENCY: the database is in emergency mode for repair; finish the repair and set it ONLINE.",
}


def run(ctx: CheckContext) -> Verdict:
    try:
        catalog = read_catalog(ctx)
    except PrecheckError as error:
        return cannot_read(error, ctx)
    not_online = [db for db in catalog.databases if db.state != "ONLINE"]
    states = sorted({db.state or "UNKNOWN" for db in not_online})
    return verdict(
        ctx, catalog, found=not_online, finding_status=ItemStatus.FAILED,
        finding_message=f"{len(not_online)} database(s) not ONLINE ({', '.join(states)}): they cannot be backed up "
                        "or recovered",
        finding_advice=" ".join(STATE_ADVICE.get(state, f"{state}: bring the database ONLINE.") for state in states),
        clean_message=f"all {len(catalog.databases)} databases are ONLINE",
        visible_clean_message="every visible database is ONLINE")


ITEM = CheckItem(name="database_status", code="SQL_SERVER_DB_NOT_ONLINE",
                 title="Databases not ONLINE", order=40, run=run)
