"""Always On availability groups, as far as one instance shows them: a database's membership (the catalog's
``"availability_group"`` key), the identifiers sys.databases and the HADR views carry, and the rows of
``sys.dm_hadr_database_replica_states``.

Plain data, no SQL. Sources (README.md, "Availability groups"):
https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-database-replica-states-transact-sql
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

ROLES = ("PRIMARY", "SECONDARY")
#: synchronization_state_desc -> synchronization_state, as the DMV documents them
SYNCHRONIZATION_STATES = {"NOT SYNCHRONIZING": 0, "SYNCHRONIZING": 1, "SYNCHRONIZED": 2, "REVERTING": 3,
                          "INITIALIZING": 4}
#: the database states the DMV's database_state documents (sys.databases' without the Azure-only ones)
REPLICA_DATABASE_STATES = ("ONLINE", "RESTORING", "RECOVERING", "RECOVERY_PENDING", "SUSPECT", "EMERGENCY",
                           "OFFLINE")
_NAMESPACE = uuid.UUID("6d1c5a52-3f0e-4a8e-9a59-1f0c2b7d9e11")


def _guid(*parts: str) -> str:
    """A stable identifier, written as SQL Server writes a uniqueidentifier (upper case)."""
    return str(uuid.uuid5(_NAMESPACE, "\x00".join(p.lower() for p in parts))).upper()


@dataclass(frozen=True)
class Membership:
    """This instance's replica of one availability database."""

    group: str
    role: str = "PRIMARY"
    synchronization_state: str = "SYNCHRONIZED"
    #: the DMV's database_state_desc; None: the database's own state (sys.databases says "same as state_desc")
    database_state: str | None = None

    @property
    def group_id(self) -> str:
        return _guid("group", self.group)

    def replica_id(self, server_name: str) -> str:
        """The local replica's id: one per (group, instance)."""
        return _guid("replica", self.group, server_name)

    def group_database_id(self, database: str) -> str:
        """The database's id in the group: the same on every replica."""
        return _guid("database", self.group, database.rstrip(" "))


def membership(raw: Any) -> Membership:
    """The catalog's ``"availability_group"`` value; raises ValueError saying what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ValueError('availability_group must be {"name": "<group>", "role": "PRIMARY"|"SECONDARY", ...}')
    unknown = set(raw) - {"name", "role", "synchronization_state", "database_state"}
    if unknown:
        raise ValueError(f"availability_group: unknown key(s) {', '.join(sorted(unknown))}")
    role = str(raw.get("role", "PRIMARY")).upper()
    if role not in ROLES:
        raise ValueError(f"availability_group.role must be PRIMARY or SECONDARY, not {role!r}")
    sync = " ".join(str(raw.get("synchronization_state", "SYNCHRONIZED")).upper().replace("_", " ").split())
    if sync not in SYNCHRONIZATION_STATES:
        raise ValueError(f"availability_group.synchronization_state must be one of "
                         f"{', '.join(SYNCHRONIZATION_STATES)}, not {sync!r}")
    state = raw.get("database_state")
    if state is not None:
        state = str(state).upper()
        if state not in REPLICA_DATABASE_STATES:
            raise ValueError(f"availability_group.database_state must be one of "
                             f"{', '.join(REPLICA_DATABASE_STATES)}, not {state!r}")
    return Membership(group=raw["name"], role=role, synchronization_state=sync, database_state=state)


def replica_state_rows(databases: Any, server_name: str, database_states: dict[str, int]):
    """Rows of sys.dm_hadr_database_replica_states: one local row per availability database and, on the
    primary, one more for its secondary database on the other replica ("On the primary replica, this view
    returns a row for each primary database and an additional row for the corresponding secondary
    database"). Columns: database_id, group_id, replica_id, group_database_id, is_local, is_primary_replica,
    synchronization_state, synchronization_state_desc, database_state, database_state_desc."""
    for db in databases:
        ag: Membership | None = db.availability_group
        if ag is None:
            continue
        state = ag.database_state or db.state
        sync = ag.synchronization_state
        local = (db.database_id, ag.group_id, ag.replica_id(server_name), ag.group_database_id(db.name), True,
                 ag.role == "PRIMARY", SYNCHRONIZATION_STATES[sync], sync, database_states[state], state)
        yield local
        if ag.role == "PRIMARY":
            yield (db.database_id, ag.group_id, ag.replica_id(f"{server_name} partner"),
                   ag.group_database_id(db.name), False, False, SYNCHRONIZATION_STATES[sync], sync, None, None)
