"""What the SQL items know about each database beyond its row's state: read-only, warm standby, and its
availability-group replica (docs/SQLSERVER.md, "Snapshots, availability groups, read-only and standby
databases", has the rules and their sources).

Pure: rows in, values out. The queries name no database.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..frozen import Frozen, Record
from ..models import AffectedDatabase

# sys.databases
# (https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql):
# source_database_id is not NULL for a database snapshot, and "BACKUP or RESTORE a database snapshot" is
# error 3002 (https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors-3000-to-3999),
# so snapshots are left out in the query itself and never reach an item. group_database_id is not NULL for a
# database in an availability group; reading it needs no permission beyond seeing the row.
DATABASES_SQL = ("SELECT name, state_desc, recovery_model_desc, is_read_only, is_in_standby, "
                 "CASE WHEN group_database_id IS NULL THEN 0 ELSE 1 END AS in_availability_group "
                 "FROM sys.databases WHERE source_database_id IS NULL")
# SQL Server 2008 and 2008 R2 have neither availability groups nor group_database_id ("Applies to: SQL Server
# 2012 and later"), so DATABASES_SQL fails there (error 207, invalid column name); this asks the rest.
DATABASES_SQL_BEFORE_2012 = ("SELECT name, state_desc, recovery_model_desc, is_read_only, is_in_standby, "
                             "0 AS in_availability_group FROM sys.databases WHERE source_database_id IS NULL")

# This instance's replica of each availability database: "For Always On databases, query the database_state or
# database_state_desc columns of sys.dm_hadr_database_replica_states" (sys.databases, column state). The view
# needs VIEW SERVER STATE (SQL Server 2022 and later: VIEW SERVER PERFORMANCE STATE, which VIEW SERVER STATE
# covers); https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-database-replica-states-transact-sql
REPLICAS_SQL = ("SELECT d.name, rs.is_primary_replica, rs.synchronization_state_desc, rs.database_state_desc "
                "FROM sys.dm_hadr_database_replica_states AS rs "
                "JOIN sys.databases AS d ON d.database_id = rs.database_id WHERE rs.is_local = 1")

# "To back up a secondary database, a secondary replica must be able to communicate with the primary replica
# and must be SYNCHRONIZED or SYNCHRONIZING"; there BACKUP DATABASE takes only COPY_ONLY full backups and
# BACKUP LOG only regular log backups, no differentials
# (https://learn.microsoft.com/sql/database-engine/availability-groups/windows/active-secondaries-backup-on-secondary-replicas-always-on-availability-groups).
BACKUP_READY = frozenset({"SYNCHRONIZED", "SYNCHRONIZING"})


class Replica(Frozen):
    """This instance's replica of an availability database (its is_local row of the HADR view)."""

    __slots__ = ("primary", "synchronization_state", "database_state")
    primary: bool
    synchronization_state: str
    database_state: str

    def __init__(self, primary: bool, synchronization_state: str, database_state: str) -> None:
        set_ = object.__setattr__  # one per availability database: no keyword loop (frozen.Frozen)
        set_(self, "primary", primary)
        set_(self, "synchronization_state", synchronization_state)
        set_(self, "database_state", database_state)


class Database(Frozen):
    """One database the login sees (snapshots never are: DATABASES_SQL leaves them out).

    Frozen (precheck.frozen), written by hand rather than as a dataclass: generating one costs a cold start
    0.3-0.5 ms a class (issue 16)."""

    __slots__ = ("name", "state", "recovery_model", "read_only", "standby", "in_availability_group", "replica")
    name: str
    state: str | None
    recovery_model: str | None
    read_only: bool
    standby: bool  # restored WITH STANDBY (log shipping secondary): a restore target
    in_availability_group: bool
    replica: Replica | None  # None outside a group, or when the HADR view could not be read

    def __init__(self, name: str, state: str | None, recovery_model: str | None, read_only: bool = False,
                 standby: bool = False, in_availability_group: bool = False, replica: Replica | None = None) -> None:
        set_ = object.__setattr__  # one per database (32,767 on an instance): no keyword loop (frozen.Frozen)
        set_(self, "name", name)
        set_(self, "state", state)
        set_(self, "recovery_model", recovery_model)
        set_(self, "read_only", read_only)
        set_(self, "standby", standby)
        set_(self, "in_availability_group", in_availability_group)
        set_(self, "replica", replica)

    @property
    def current_state(self) -> str:
        """The state that matters: the replica's for an availability database whose replica is known."""
        return (self.replica.database_state if self.replica else self.state) or "UNKNOWN"

    @property
    def secondary(self) -> bool:
        return self.replica is not None and not self.replica.primary

    def affected(self, state: str | None = None, fix: str | None = None) -> AffectedDatabase:
        return AffectedDatabase(name=self.name, state=state or self.state, recovery_model=self.recovery_model,
                                fix=fix)


def databases(rows: Iterable[dict], replicas: dict[str, Replica]) -> list[Database]:
    """DATABASES_SQL's rows, each with its replica (REPLICAS_SQL's rows by name) when there is one."""
    return [Database(name=row["name"], state=row["state_desc"], recovery_model=row["recovery_model_desc"],
                     read_only=bool(row.get("is_read_only")), standby=bool(row.get("is_in_standby")),
                     in_availability_group=bool(row.get("in_availability_group")),
                     replica=replicas.get(row["name"]) if row.get("in_availability_group") else None)
            for row in rows]


def replicas(rows: Iterable[dict]) -> dict[str, Replica]:
    return {row["name"]: Replica(primary=bool(row["is_primary_replica"]),
                                 synchronization_state=str(row["synchronization_state_desc"] or "").upper(),
                                 database_state=str(row["database_state_desc"] or "").upper())
            for row in rows}


class Replication(Record):
    """What the catalog read said about availability groups: None for `unreadable` when the HADR view was read
    (or not needed), else the server's reason it could not be."""

    __slots__ = ("unreadable",)
    unreadable: str | None

    def __init__(self, unreadable: str | None = None) -> None:
        self.unreadable = unreadable

    def details(self, found: list[Database]) -> dict:
        """`details.availability_groups` of a verdict (empty when no database is in a group)."""
        members = [db for db in found if db.in_availability_group]
        if not members:
            return {}
        return {"availability_groups": {
            "databases": len(members), "replica_state_readable": self.unreadable is None,
            "secondary": [db.name for db in members if db.secondary][:50],
            **({"reason": self.unreadable} if self.unreadable else {})}}


def names(found: list[Database], limit: int = 5) -> str:
    """'a', 'b' and 3 more."""
    shown = ", ".join(f"'{db.name}'" for db in found[:limit])
    return shown + (f" and {len(found) - limit} more" if len(found) > limit else "")
