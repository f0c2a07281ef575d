"""SQL_SERVER_BACKUP_PERMISSION_DENIED: databases the login cannot back up.

"BACKUP DATABASE and BACKUP LOG permissions default to members of the sysadmin fixed server role and the db_owner
and db_backupoperator fixed database roles" (https://learn.microsoft.com/sql/t-sql/statements/backup-transact-sql,
Permissions). HAS_PERMS_BY_NAME(<database>, 'DATABASE', 'BACKUP DATABASE') answers whether the login holds the
permission, however it holds it (role, grant, ownership, CONTROL SERVER) and with any DENY applied; it takes a
column of sys.databases as its securable (https://learn.microsoft.com/sql/t-sql/functions/has-perms-by-name-transact-sql,
"Determine which databases the current user has permission to use") and is NULL when it cannot be evaluated.
It is asked only of ONLINE databases: one that is not is database_status's FAILED, backed up by nobody.
BACKUP LOG is needed where log backups run: databases in FULL or BULK_LOGGED recovery other than master (which
takes full backups only). Where availability groups exist, the backup service also reads the replica state, which
needs VIEW SERVER STATE (sys.dm_hadr_database_replica_states, Permissions); tempdb is never backed up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..fixes import guarded
from ..frozen import Frozen, Record
from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError, SqlError
from ..tsql import comment, quote_name, quote_string
from . import CheckContext, CheckItem, Verdict
from ._databases import databases
from ._session import cannot_check, with_session
from ._sql import VISIBILITY_SQL, DatabaseCatalog, Visibility, verdict

if TYPE_CHECKING:
    from ..interfaces import SqlSession

_PERMISSIONS = ("CASE WHEN state_desc = 'ONLINE' THEN HAS_PERMS_BY_NAME(name, 'DATABASE', 'BACKUP DATABASE') "
                "END AS backup_database, "
                "CASE WHEN state_desc = 'ONLINE' THEN HAS_PERMS_BY_NAME(name, 'DATABASE', 'BACKUP LOG') "
                "END AS backup_log")
PERMISSIONS_SQL = ("SELECT name, state_desc, recovery_model_desc, is_read_only, is_in_standby, "
                   "CASE WHEN group_database_id IS NULL THEN 0 ELSE 1 END AS in_availability_group, " + _PERMISSIONS
                   + " FROM sys.databases WHERE source_database_id IS NULL AND name <> N'tempdb'")
# SQL Server 2008 R2 has no group_database_id (and no availability groups): the same without it
PERMISSIONS_SQL_BEFORE_2012 = ("SELECT name, state_desc, recovery_model_desc, is_read_only, is_in_standby, "
                               "0 AS in_availability_group, " + _PERMISSIONS
                               + " FROM sys.databases WHERE source_database_id IS NULL AND name <> N'tempdb'")
SERVER_STATE_SQL = "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW SERVER STATE') AS view_server_state"

ADVICE = ("Make the login a member of db_backupoperator (the least role that may run BACKUP DATABASE and BACKUP "
          "LOG) in each database named, with the fix statement shown for it (or make it db_owner, or sysadmin). "
          "If it is already a member and still may not, a DENY BACKUP DATABASE or DENY BACKUP LOG on it or on a "
          "role it is in overrides the role: find it in sys.database_permissions and REVOKE it.")


class Missing(Frozen):
    """What the login lacks to back up one database."""

    __slots__ = ("name", "state", "recovery_model", "permissions")
    name: str
    state: str | None
    recovery_model: str | None
    permissions: tuple[str, ...]

    def __init__(self, name: str, state: str | None, recovery_model: str | None,
                 permissions: tuple[str, ...]) -> None:
        set_ = object.__setattr__  # one per database: no keyword loop (frozen.Frozen)
        set_(self, "name", name)
        set_(self, "state", state)
        set_(self, "recovery_model", recovery_model)
        set_(self, "permissions", permissions)


class Reading(Record):
    __slots__ = ("rows", "visibility", "view_server_state")
    rows: list[dict]
    visibility: Visibility
    view_server_state: bool

    def __init__(self, rows: list[dict], visibility: Visibility, view_server_state: bool) -> None:
        self.rows = rows
        self.visibility = visibility
        self.view_server_state = view_server_state


def read(session: SqlSession) -> Reading:
    try:
        rows = session.query(PERMISSIONS_SQL)
    except SqlError as error:
        if error.kind != "query":
            raise
        try:
            rows = session.query(PERMISSIONS_SQL_BEFORE_2012)
        except SqlError:
            raise error from None
    visibility = Visibility.of(session.query(VISIBILITY_SQL))
    state = session.query(SERVER_STATE_SQL)
    return Reading(rows, visibility, bool(state and state[0].get("view_server_state") == 1))


def needs_log_backups(row: dict) -> bool:
    return row.get("recovery_model_desc") in ("FULL", "BULK_LOGGED") and str(row["name"]).lower() != "master"


def missing(reading: Reading) -> tuple[list[Missing], list[str]]:
    """(the databases the login cannot back up and what it lacks for each, the ONLINE databases whose permission
    could not be evaluated). Databases not ONLINE, and warm standbys, are left out: nobody backs them up."""
    found, unknown = [], []
    for row in reading.rows:
        if row.get("state_desc") != "ONLINE" or row.get("is_in_standby"):
            continue
        asked = [("BACKUP DATABASE", row.get("backup_database"))]
        if needs_log_backups(row):
            asked.append(("BACKUP LOG", row.get("backup_log")))
        if any(value is None for _, value in asked):
            unknown.append(str(row["name"]))
            continue
        lacks = [permission for permission, value in asked if value != 1]
        if row.get("in_availability_group") and not reading.view_server_state:
            lacks.append("VIEW SERVER STATE")
        if lacks:
            found.append(Missing(str(row["name"]), row.get("state_desc"), row.get("recovery_model_desc"),
                                 tuple(lacks)))
    return found, unknown


def fix(database: str, login: str, permissions: tuple[str, ...]) -> str:
    """T-SQL that gives `login` what it lacks in `database`: a user for the login when it has none, that user in
    db_backupoperator (sp_addrolemember: SQL Server 2008 R2 to 2022 alike; the user may have another name than
    the login, so it is found by the login's SID), and VIEW SERVER STATE in master when that is missing."""
    lines = [comment(f"login {login!r} lacks {', '.join(permissions)} for database {database!r}")]
    if any(p.startswith("BACKUP") for p in permissions):
        name, literal = quote_name(login), quote_string(login)
        lines += [f"USE {quote_name(database)};",
                  f"IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE sid = SUSER_SID({literal})) "
                  f"CREATE USER {name} FOR LOGIN {name};",
                  "DECLARE @user sysname = (SELECT name FROM sys.database_principals "
                  f"WHERE sid = SUSER_SID({literal}));",
                  "EXEC sp_addrolemember N'db_backupoperator', @user;"]
    if "VIEW SERVER STATE" in permissions:
        lines += ["USE [master];", f"GRANT VIEW SERVER STATE TO {quote_name(login)};"]
    return guarded("\n".join(lines))  # a name holding a line break: only comments (fixes.guarded)


def _listed(found: list[str], limit: int = 5) -> str:
    """'a', 'b' and 3 more (as _databases.names)."""
    shown = ", ".join(f"'{name}'" for name in found[:limit])
    return shown + (f" and {len(found) - limit} more" if len(found) > limit else "")


def run(ctx: CheckContext) -> Verdict:
    try:
        reading = with_session(ctx, read)
    except PrecheckError as error:
        return cannot_check(error, ctx, "the backup permissions")
    login = ctx.instance.user
    lacking, unknown = missing(reading)
    catalog = DatabaseCatalog(databases(reading.rows, {}), complete=reading.visibility.complete,
                              visibility=reading.visibility)
    caveats = []
    if unknown:
        caveats.append((f"whether login '{login}' may back up {len(unknown)} ONLINE database(s) could not be "
                        f"evaluated ({_listed(unknown)})",
                        "Check in each that the login has a user and is in db_backupoperator or db_owner."))
    found = [AffectedDatabase(name=m.name, state=m.state, recovery_model=m.recovery_model,
                              reason=f"lacks {' and '.join(m.permissions)}", fix=fix(m.name, login, m.permissions))
             for m in lacking]
    advice = ADVICE
    if any("VIEW SERVER STATE" in m.permissions for m in lacking):
        advice += (f" The availability databases also need VIEW SERVER STATE, for the replica state: GRANT VIEW "
                   f"SERVER STATE TO {quote_name(login)}; in master.")
    sysadmin = " (sysadmin)" if reading.visibility.sysadmin else ""
    return verdict(
        ctx, catalog, found=found, finding_status=ItemStatus.FAILED,
        finding_message=f"login '{login}' cannot back up {len(found)} database(s) "
                        f"({_listed([m.name for m in lacking])})",
        finding_advice=advice, clean_message=f"login '{login}'{sysadmin} can back up every ONLINE database",
        visible_clean_message=f"login '{login}' can back up every ONLINE database it sees", caveats=caveats)


ITEM = CheckItem(name="backup_permission", code="SQL_SERVER_BACKUP_PERMISSION_DENIED",
                 title="Login's backup permissions", order=60, run=run, reads_secrets=True)
