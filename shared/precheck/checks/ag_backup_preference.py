"""SQL_SERVER_AG_NOT_PREFERRED_BACKUP_REPLICA: availability databases for which this replica is not the group's
preferred backup replica.

sys.fn_hadr_backup_is_preferred_replica(<database>) is 1 on the replica the group's automated backup preference
and backup priorities choose, 0 elsewhere, and 1 for a database in no group
(https://learn.microsoft.com/sql/relational-databases/system-functions/sys-fn-hadr-backup-is-preferred-replica-transact-sql).
Backup jobs that honour it skip the database here; backups that ignore it run where the group's administrator
did not want them (and on a secondary only COPY_ONLY full and log backups run at all). The group and its
preference come from sys.databases.replica_id -> sys.availability_replicas (replica_server_name, backup_priority)
-> sys.availability_groups (automated_backup_preference_desc: PRIMARY, SECONDARY_ONLY, SECONDARY, NONE)
(https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-availability-groups-transact-sql,
.../sys-availability-replicas-transact-sql); those catalog views "require VIEW ANY DEFINITION permission on the
server instance" (https://learn.microsoft.com/sql/database-engine/availability-groups/windows/monitor-availability-groups-transact-sql)
and show no rows without it. The local role comes from sys.dm_hadr_database_replica_states (VIEW SERVER STATE).
SQL Server 2008 R2 and older (ProductVersion below 11) have no availability groups, nor the columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..fixes import guarded
from ..frozen import Frozen, Record
from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError, SqlError
from ..tsql import comment, quote_name, quote_string
from . import CheckContext, CheckItem, Verdict
from ._databases import REPLICAS_SQL, databases
from ._session import cannot_check, with_session
from ._sql import VISIBILITY_SQL, DatabaseCatalog, Visibility, verdict

if TYPE_CHECKING:
    from ..interfaces import SqlSession

PREFERENCE_SQL = ("SELECT d.name, d.state_desc, d.recovery_model_desc, "
                  "sys.fn_hadr_backup_is_preferred_replica(d.name) AS is_preferred, ag.name AS group_name, "
                  "ag.automated_backup_preference_desc, ar.replica_server_name, ar.backup_priority "
                  "FROM sys.databases AS d "
                  "LEFT JOIN sys.availability_replicas AS ar ON ar.replica_id = d.replica_id "
                  "LEFT JOIN sys.availability_groups AS ag ON ag.group_id = ar.group_id "
                  "WHERE d.group_database_id IS NOT NULL AND d.source_database_id IS NULL")

VERSION_SQL = "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version"
PREFERENCE_MEANS = {
    "PRIMARY": "backups run on the primary replica only",
    "SECONDARY_ONLY": "backups run on secondary replicas only, never on the primary",
    "SECONDARY": "backups run on a secondary replica, on the primary only when it is the only replica online",
    "NONE": "backups run on the online replica with the highest backup priority",
}
ADVICE = ("Back these databases up on the group's preferred backup replica (register that replica's instance "
          "instead, or as well), or change the group's preference so that this replica is preferred: the fix "
          "statement of each database does that on the primary replica (ALTER AVAILABILITY GROUP ... SET "
          "(AUTOMATED_BACKUP_PREFERENCE = ...) or MODIFY REPLICA ... WITH (BACKUP_PRIORITY = ...)); it changes "
          "where every backup job that honours the preference runs.")


class Preference(Frozen):
    """One availability database as this replica sees it."""

    __slots__ = ("name", "state", "recovery_model", "preferred", "group", "preference", "replica_server", "primary")
    name: str
    state: str | None
    recovery_model: str | None
    preferred: bool
    group: str | None  # None: the login cannot see the group's metadata
    preference: str | None
    replica_server: str | None
    primary: bool | None  # None: the replica state could not be read

    def __init__(self, name: str, state: str | None, recovery_model: str | None, preferred: bool,
                 group: str | None, preference: str | None, replica_server: str | None,
                 primary: bool | None) -> None:
        set_ = object.__setattr__  # one per availability database: no keyword loop (frozen.Frozen)
        set_(self, "name", name)
        set_(self, "state", state)
        set_(self, "recovery_model", recovery_model)
        set_(self, "preferred", preferred)
        set_(self, "group", group)
        set_(self, "preference", preference)
        set_(self, "replica_server", replica_server)
        set_(self, "primary", primary)


class Reading(Record):
    __slots__ = ("rows", "visibility", "roles", "roles_unreadable", "before_2012")
    rows: list[dict]
    visibility: Visibility
    roles: dict[str, bool]  # database -> this replica is its primary
    roles_unreadable: str | None
    before_2012: bool

    def __init__(self, rows: list[dict], visibility: Visibility, roles: dict[str, bool],
                 roles_unreadable: str | None = None, before_2012: bool = False) -> None:
        self.rows = rows
        self.visibility = visibility
        self.roles = roles
        self.roles_unreadable = roles_unreadable
        self.before_2012 = before_2012


def read(session: SqlSession) -> Reading:
    visibility = Visibility.of(session.query(VISIBILITY_SQL))
    version = session.query(VERSION_SQL)
    major = str((version[0] if version else {}).get("product_version") or "0").split(".")[0]
    if major.isdigit() and int(major) < 11:  # SQL Server 2008 R2 and older: no availability groups
        return Reading([], visibility, {}, before_2012=True)
    rows = session.query(PREFERENCE_SQL)
    if not rows:
        return Reading(rows, visibility, {})
    try:
        roles = {row["name"]: bool(row["is_primary_replica"]) for row in session.query(REPLICAS_SQL)}
        return Reading(rows, visibility, roles)
    except SqlError as error:
        if error.kind != "query":
            raise
        return Reading(rows, visibility, {}, roles_unreadable=error.message)


def preferences(reading: Reading) -> list[Preference]:
    return [Preference(name=str(row["name"]), state=row.get("state_desc"),
                       recovery_model=row.get("recovery_model_desc"),
                       preferred=row.get("is_preferred") == 1, group=row.get("group_name"),
                       preference=row.get("automated_backup_preference_desc"),
                       replica_server=row.get("replica_server_name"), primary=reading.roles.get(str(row["name"])))
            for row in reading.rows]


def fix(p: Preference) -> str:
    """T-SQL, to run on the primary replica, that makes this replica the preferred backup replica of `p`'s group;
    only a comment when the group cannot be read."""
    lines = [comment(f"{p.name!r}: this replica is not the preferred backup replica of availability group "
                     f"{p.group!r} (automated backup preference {p.preference or 'unknown'}); back it up on the "
                     "preferred replica, or run this on the primary replica (it changes the whole group's preference)")]
    if p.group is None:
        return "\n".join(lines)
    group = quote_name(p.group)
    if p.preference == "PRIMARY" and p.primary is False:
        lines.append(f"ALTER AVAILABILITY GROUP {group} SET (AUTOMATED_BACKUP_PREFERENCE = SECONDARY);")
    elif p.preference in ("SECONDARY", "SECONDARY_ONLY") and p.primary is True:
        lines.append(f"ALTER AVAILABILITY GROUP {group} SET (AUTOMATED_BACKUP_PREFERENCE = PRIMARY);")
    elif p.replica_server:
        lines.append(f"ALTER AVAILABILITY GROUP {group} MODIFY REPLICA ON {quote_string(p.replica_server)} "
                     "WITH (BACKUP_PRIORITY = 100);")
    return guarded("\n".join(lines))  # a name holding a line break: only comments (fixes.guarded)


def _reason(p: Preference) -> str:
    if p.group is None:
        return "not the preferred backup replica (its group's preference cannot be read)"
    role = {True: "primary", False: "secondary", None: "replica"}[p.primary]
    means = PREFERENCE_MEANS.get(p.preference or "", "")
    return (f"this {role} replica is not the preferred backup replica of availability group '{p.group}' "
            f"(automated backup preference {p.preference}{': ' + means if means else ''})")


def run(ctx: CheckContext) -> Verdict:
    try:
        reading = with_session(ctx, read)
    except PrecheckError as error:
        return cannot_check(error, ctx, "the availability groups")
    found = preferences(reading)
    login = quote_name(ctx.instance.user)
    catalog = DatabaseCatalog(databases([{"name": p.name, "state_desc": p.state, "recovery_model_desc":
                                          p.recovery_model, "in_availability_group": 1} for p in found], {}),
                              complete=reading.visibility.complete, visibility=reading.visibility)
    others = [p for p in found if not p.preferred]
    caveats = []
    if others and any(p.group is None for p in others):
        caveats.append((f"login '{ctx.instance.user}' cannot see the availability groups' metadata (VIEW ANY "
                        "DEFINITION), so their preference is not named",
                        f"To name it: GRANT VIEW ANY DEFINITION TO {login}; (in master)."))
    groups = sorted({f"{p.group} ({p.preference})" for p in found if p.group})
    details = {"availability_databases": len(found), "groups": groups[:50], "before_2012": reading.before_2012,
               **({"roles_unreadable": reading.roles_unreadable} if reading.roles_unreadable else {})}
    if not found:
        clean = "no availability groups" + (" (SQL Server before 2012)" if reading.before_2012 else "")
        result = verdict(ctx, catalog, found=[], finding_status=ItemStatus.WARNING, finding_message="",
                         finding_advice="", clean_message=clean,
                         visible_clean_message="no visible database is in an availability group")
    else:
        affected = [AffectedDatabase(name=p.name, state=p.state, recovery_model=p.recovery_model, reason=_reason(p),
                                     fix=fix(p)) for p in others]
        result = verdict(
            ctx, catalog, found=affected, finding_status=ItemStatus.WARNING,
            finding_message=f"this replica is not the preferred backup replica for {len(others)} of {len(found)} "
                            f"availability database(s) ({_listed([p.name for p in others])})",
            finding_advice=ADVICE, clean_message=f"this replica is the preferred backup replica for all "
                                                 f"{len(found)} availability database(s)",
            visible_clean_message=f"this replica is the preferred backup replica for the {len(found)} visible "
                                  "availability database(s)", caveats=caveats)
    result.details.update(details)
    return result


def _listed(found: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{name}'" for name in found[:limit])
    return shown + (f" and {len(found) - limit} more" if len(found) > limit else "")


ITEM = CheckItem(name="ag_backup_preference", code="SQL_SERVER_AG_NOT_PREFERRED_BACKUP_REPLICA",
                 title="Preferred backup replica of availability groups", order=70, run=run, reads_secrets=True)
