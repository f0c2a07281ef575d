"""SQL_SERVER_DB_IN_SIMPLE_RECOVERY_MODE: databases in SIMPLE recovery get full backups only."""

from __future__ import annotations

from ..models import ItemStatus
from ..ports import PrecheckError
from . import CheckContext, CheckItem, Verdict
from ._sql import SYSTEM_DATABASES, cannot_read, read_catalog, verdict

ADVICE = (
    "Full backups of these databases work; incremental (log) backups and point-in-time recovery do not. "
    "To protect them fully, switch each to FULL recovery with ALTER DATABASE <name> SET RECOVERY FULL, "
    "then take a full backup at once: until that full backup, the log chain does not start and log backups fail."
)


def run(ctx: CheckContext) -> Verdict:
    try:
        catalog = read_catalog(ctx)
    except PrecheckError as error:
        return cannot_read(error, ctx)
    simple = [db for db in catalog.databases if db.name not in SYSTEM_DATABASES and db.recovery_model == "SIMPLE"]
    return verdict(
        ctx, catalog, found=simple, finding_status=ItemStatus.WARNING,
        finding_message=f"{len(simple)} user database(s) in SIMPLE recovery: log backups will fail for them",
        finding_advice=ADVICE, clean_message="no user database is in SIMPLE recovery",
        visible_clean_message="no visible user database is in SIMPLE recovery")


ITEM = CheckItem(name="recovery_mode", code="SQL_SERVER_DB_IN_SIMPLE_RECOVERY_MODE",
                 title="Databases in SIMPLE recovery", order=30, run=run)
