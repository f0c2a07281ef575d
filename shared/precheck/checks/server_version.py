"""SQL_SERVER_VERSION_NOT_SUPPORTED: the instance's version, level and edition against the supported range.

Reads SERVERPROPERTY('ProductVersion'), ('ProductLevel'), ('Edition') and ('EngineEdition'), which any login
may read (https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql: EngineEdition 2 Standard
(and Web), 3 Enterprise (and Developer, Evaluation), 4 Express; 5, 6, 8, 9, 11, 12 are Azure services). The range
is the instance's settings.min_version .. settings.max_version (SQL Server 2008 R2, 10.50, to 2022, 16, by
default): FAILED outside it. Inside it, a version past Microsoft's extended support, or a service pack Microsoft
no longer supports, is a WARNING: backups still work, security fixes do not come. Express is noted: it has no
SQL Server Agent (https://learn.microsoft.com/sql/sql-server/editions-and-components-of-sql-server-2022).

Extended support ends (Microsoft's Fixed Lifecycle Policy, https://learn.microsoft.com/lifecycle/products/
sql-server-2008-r2, .../sql-server-2012, .../sql-server-2014, .../sql-server-2016, .../sql-server-2017,
.../sql-server-2019, .../sql-server-2022, .../sql-server-2025; the ODBC driver's support lifecycle page aligns
ODBC 17 with 2022's January 11, 2033). Only a version's latest service pack is supported: 2012 SP4, 2014 SP3,
2016 SP3 (https://learn.microsoft.com/troubleshoot/sql/releases/download-and-install-latest-updates); from 2017
there are no service packs (ProductLevel stays RTM, cumulative updates only).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from ..frozen import Frozen
from ..models import ItemSettings, ItemStatus
from ..ports import PrecheckError
from . import CheckContext, CheckItem, Verdict
from ._session import cannot_check, with_session

if TYPE_CHECKING:
    from ..interfaces import SqlSession

VERSION_SQL = ("SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version, "
               "CAST(SERVERPROPERTY('ProductLevel') AS nvarchar(128)) AS product_level, "
               "CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition, "
               "CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition")

#: (major, minor) or (major,) -> (product name, end of extended support, latest service pack or None)
RELEASES: dict[tuple[int, ...], tuple[str, date, int | None]] = {
    (10, 0): ("SQL Server 2008", date(2019, 7, 9), 4),
    (10, 50): ("SQL Server 2008 R2", date(2019, 7, 9), 3),
    (11,): ("SQL Server 2012", date(2022, 7, 12), 4),
    (12,): ("SQL Server 2014", date(2024, 7, 9), 3),
    (13,): ("SQL Server 2016", date(2026, 7, 14), 3),
    (14,): ("SQL Server 2017", date(2027, 10, 12), None),
    (15,): ("SQL Server 2019", date(2030, 1, 8), None),
    (16,): ("SQL Server 2022", date(2033, 1, 11), None),
    (17,): ("SQL Server 2025", date(2036, 1, 6), None),
}
SERVER_EDITIONS = {2, 3, 4}  # Standard, Enterprise, Express: SQL Server installed on a server
EXPRESS = 4
_VERSION = re.compile(r"^[0-9]{1,4}(\.[0-9]{1,6}){1,3}$")

ADVICE_OUTSIDE = ("Backups of this instance are not supported: upgrade SQL Server to a supported version (an "
                  "in-place upgrade or a migration), or, if this version is known to work with the backup "
                  "service, widen the instance's supported range (settings.min_version / settings.max_version).")
ADVICE_UNSUPPORTED = ("Backups work, but Microsoft no longer ships security fixes for this version or level: plan "
                      "an upgrade to a supported version, or install the latest service pack and cumulative update.")
ADVICE_NOT_A_SERVER = ("Point the instance at SQL Server installed on the ECS instance itself: Azure SQL services "
                       "are backed up by their own service, not by this product.")
NOTE_EXPRESS = ("Express edition: it has no SQL Server Agent, so no SQL Agent job can run or schedule backups "
                "on this instance (the backup service schedules its own), and each database is limited to 10 GB.")


class Product(Frozen):
    """What SERVERPROPERTY says about the instance."""

    __slots__ = ("version", "level", "edition", "engine_edition")
    version: str
    level: str
    edition: str
    engine_edition: int | None

    def __init__(self, version: str, level: str, edition: str, engine_edition: int | None) -> None:
        self._init(version=version, level=level, edition=edition, engine_edition=engine_edition)

    @property
    def parts(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split("."))

    @property
    def release(self) -> tuple[str, date, int | None] | None:
        parts = self.parts
        return RELEASES.get(parts[:2]) or RELEASES.get(parts[:1])

    @property
    def name(self) -> str:
        release = self.release
        return f"{release[0] if release else 'SQL Server'} {self.version} {self.level}".rstrip()


def version_parts(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def in_range(version: tuple[int, ...], minimum: str, maximum: str) -> bool:
    """minimum <= version, compared part by part ('10.50' is 10.50.0.0); version's first parts <= maximum ('16':
    every 16.x)."""
    top = version_parts(maximum)
    return version >= version_parts(minimum) and version[:len(top)] <= top


def evaluate(product: Product, settings: ItemSettings, today: date) -> Verdict:
    """The verdict for `product` under the instance's range, on `today` (the lifecycle dates are compared to it)."""
    details = {"product_version": product.version, "product_level": product.level, "edition": product.edition,
               "engine_edition": product.engine_edition,
               "supported_range": [settings.min_version, settings.max_version]}
    if not _VERSION.match(product.version):
        return Verdict(ItemStatus.ERROR, f"the server answered ProductVersion {product.version!r}, which is not a "
                       "SQL Server version", advice="Check that the server is a SQL Server instance.", details=details)
    express = product.engine_edition == EXPRESS
    note = f" ({NOTE_EXPRESS})" if express else ""
    if product.engine_edition is not None and product.engine_edition not in SERVER_EDITIONS:
        return Verdict(ItemStatus.FAILED, f"{product.name} ({product.edition}, EngineEdition "
                       f"{product.engine_edition}) is not SQL Server on a server", advice=ADVICE_NOT_A_SERVER,
                       details=details)
    if not in_range(product.parts, settings.min_version, settings.max_version):
        return Verdict(ItemStatus.FAILED, f"{product.name} ({product.edition}) is outside the supported range, "
                       f"{settings.min_version} to {settings.max_version}.x", advice=ADVICE_OUTSIDE + note,
                       details=details)
    release = product.release
    problems = []
    if release and release[1] < today:
        details["extended_support_ended"] = release[1].isoformat()
        problems.append(f"{release[0]}'s extended support ended on {release[1].isoformat()}")
    if release and release[2] is not None and _service_pack(product.level) < release[2]:
        problems.append(f"{product.level} is not {release[0]}'s latest service pack, SP{release[2]}, the only "
                        "one Microsoft supports")
    if problems:
        return Verdict(ItemStatus.WARNING, f"{product.name} ({product.edition}) is supported for backup, but "
                       + " and ".join(problems), advice=ADVICE_UNSUPPORTED + note, details=details)
    express_note = "; Express edition: no SQL Server Agent" if express else ""
    return Verdict(ItemStatus.PASSED, f"{product.name} ({product.edition}) is supported{express_note}",
                   advice=NOTE_EXPRESS if express else "", details=details)


def _service_pack(level: str) -> int:
    """ProductLevel's service pack: RTM 0, SP3 3 (a CTP counts as 0)."""
    return int(level[2:]) if re.fullmatch(r"SP[0-9]+", level) else 0


def read_product(session: SqlSession) -> Product:
    rows = session.query(VERSION_SQL)
    row = rows[0] if rows else {}
    engine = row.get("engine_edition")
    return Product(version=str(row.get("product_version") or ""), level=str(row.get("product_level") or ""),
                   edition=str(row.get("edition") or ""), engine_edition=None if engine is None else int(engine))


def run(ctx: CheckContext) -> Verdict:
    try:
        product = with_session(ctx, read_product)
    except PrecheckError as error:
        return cannot_check(error, ctx, "the version")
    return evaluate(product, ctx.instance.settings, datetime.now(timezone.utc).date())


ITEM = CheckItem(name="server_version", code="SQL_SERVER_VERSION_NOT_SUPPORTED",
                 title="SQL Server version and edition", order=50, run=run, reads_secrets=True)
