"""Reading the database catalog of an instance, shared by the SQL check items.

The queries name no database: nothing a user controls is ever part of the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..frozen import Frozen, Record
from ..models import AffectedDatabase, ItemStatus
from ..ports import PrecheckError, SqlError
from ..tsql import quote_name
from . import CheckContext, Verdict
from ._databases import (
    DATABASES_SQL,
    DATABASES_SQL_BEFORE_2012,
    REPLICAS_SQL,
    Database,
    Replication,
    databases,
    replicas,
)

if TYPE_CHECKING:
    from ..interfaces import SqlSession

SYSTEM_DATABASES = frozenset({"master", "model", "msdb", "tempdb"})

# What decides which rows of sys.databases the login sees (docs/SQLSERVER.md has the rules and sources).
# https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql:
#   "If a database is OFFLINE, the corresponding row isn't visible to low-privileged users. To see the
#   corresponding row if the database is OFFLINE, a user must have at least the ALTER ANY DATABASE
#   server-level permission, or the CREATE DATABASE permission in the master database."
# and without VIEW ANY DATABASE a login sees only master, tempdb, the databases it owns and the one it is
# connected to. CREATE ANY DATABASE implies CREATE DATABASE in master, and ALTER ANY DATABASE implies
# CREATE ANY DATABASE (https://learn.microsoft.com/sql/t-sql/statements/deny-database-permissions-transact-sql,
# https://learn.microsoft.com/sql/t-sql/statements/deny-server-permissions-transact-sql).
VISIBILITY_SQL = ("SELECT IS_SRVROLEMEMBER('sysadmin') AS is_sysadmin, "
                  "HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DATABASE') AS view_any_database, "
                  "HAS_PERMS_BY_NAME(NULL, NULL, 'ALTER ANY DATABASE') AS alter_any_database, "
                  "HAS_PERMS_BY_NAME('master', 'DATABASE', 'CREATE DATABASE') AS create_database")


class Visibility(Frozen):
    """What the login holds of what shows rows of sys.databases (each True only when the server said 1)."""

    __slots__ = ("sysadmin", "view_any_database", "alter_any_database", "create_database")
    sysadmin: bool
    view_any_database: bool
    alter_any_database: bool
    create_database: bool  # CREATE DATABASE in master (implied by CREATE ANY / ALTER ANY DATABASE)

    def __init__(self, sysadmin: bool = False, view_any_database: bool = False, alter_any_database: bool = False,
                 create_database: bool = False) -> None:
        self._init(sysadmin=sysadmin, view_any_database=view_any_database, alter_any_database=alter_any_database,
                   create_database=create_database)

    @classmethod
    def of(cls, rows: list[dict]) -> Visibility:
        row = rows[0] if rows else {}
        return cls(*(row.get(key) == 1 for key in ("is_sysadmin", "view_any_database", "alter_any_database",
                                                   "create_database")))

    @property
    def sees_offline(self) -> bool:
        return self.sysadmin or self.alter_any_database or self.create_database

    @property
    def sees_unowned(self) -> bool:
        return self.sysadmin or self.view_any_database

    @property
    def complete(self) -> bool:
        """Every database has its row: sysadmin, or VIEW ANY DATABASE and a permission that shows OFFLINE rows.
        (Stricter than SQL Server's rule, which shows every row to ALTER ANY DATABASE or CREATE DATABASE alone
        unless VIEW ANY DATABASE is denied: HAS_PERMS_BY_NAME cannot tell which, so both are required.)"""
        return self.sees_unowned and self.sees_offline

    def details(self) -> dict[str, bool]:
        return {"sysadmin": self.sysadmin, "view_any_database": self.view_any_database,
                "alter_any_database": self.alter_any_database, "create_database_in_master": self.create_database}


class DatabaseCatalog(Record):
    """The databases the login sees, and what it may and may not see (Record: a dataclass's behaviour, by hand)."""

    __slots__ = ("databases", "complete", "visibility", "replication")
    databases: list[Database]  # database snapshots excluded (DATABASES_SQL)
    complete: bool  # False when the login may not see every database
    visibility: Visibility
    replication: Replication

    def __init__(self, databases: list[Database], complete: bool, visibility: Visibility | None = None,
                 replication: Replication | None = None) -> None:
        self.databases = databases
        self.complete = complete
        self.visibility = Visibility() if visibility is None else visibility  # a new one each (no shared default)
        self.replication = Replication() if replication is None else replication


def read_catalog(ctx: CheckContext) -> DatabaseCatalog:
    """Connect as the instance's login and read every database it can see; raises PrecheckError."""
    instance = ctx.instance
    password = ctx.probes.secrets().resolve(instance.password_ref)
    try:
        session = ctx.probes.sql().connect(instance.sql_target(), instance.user, password, timeout=ctx.remaining())
    except PrecheckError as error:  # a driver's message may quote its connection string: never the password
        if len(password) >= 4 and password in error.message:
            raise type(error)(error.kind, error.message.replace(password, "(password not shown)")) from None
        raise
    try:
        rows = _database_rows(session)
        visibility = Visibility.of(session.query(VISIBILITY_SQL))
        found, replication = _with_replicas(session, rows)
    finally:
        session.close()
    return DatabaseCatalog(databases=found, complete=visibility.complete, visibility=visibility,
                           replication=replication)


def _database_rows(session: SqlSession) -> list[dict]:
    """DATABASES_SQL's rows; on a server too old for it (before 2012: no group_database_id), the same without
    availability groups. When that fails too, the first error is the item's."""
    try:
        return session.query(DATABASES_SQL)
    except SqlError as error:
        if error.kind != "query":
            raise
        try:
            return session.query(DATABASES_SQL_BEFORE_2012)
        except SqlError:
            raise error from None


def _with_replicas(session: SqlSession, rows: list[dict]) -> tuple[list[Database], Replication]:
    """The databases, with their availability-group replicas when any is in a group. A login that may not read
    the HADR view (SQL Server answers error 300, VIEW SERVER STATE denied) gets the databases without them and
    the reason; any other failure is the item's."""
    if not any(row.get("in_availability_group") for row in rows):
        return databases(rows, {}), Replication()
    try:
        return databases(rows, replicas(session.query(REPLICAS_SQL))), Replication()
    except SqlError as error:
        if error.kind != "query":
            raise
        return databases(rows, {}), Replication(unreadable=error.message)


_CONNECT_ADVICE = {
    "login": "Check the login name and the password its password_ref points to; to see every database the login "
             "needs VIEW ANY DATABASE and CREATE ANY DATABASE (or sysadmin): see docs/SQLSERVER.md.",
    "database": "Connected, but the login cannot open master (error 4060) or its default database (4064): check "
                "that the login is enabled and may connect (GRANT CONNECT SQL) and that master is online.",
    "dns": "Check the server name: it does not resolve from the function's VPC (PrivateZone or the VPC's DNS).",
    "refused": "Check that SQL Server listens on TCP at that address and port (SQL Server Configuration Manager, "
               "TCP/IP enabled) and that the security group allows the function's vSwitch.",
    "unreachable": "No route to the server: check the VPC, vSwitch and route tables the function runs in.",
    "timeout": "No answer in time: check that the security group and the server's firewall let the function's "
               "vSwitch reach the port, that it is a SQL Server, that it is not overloaded, and the instance's "
               "item time limit.",
    "browser": "A named instance (HOST\\INSTANCE) needs the SQL Server Browser: start the SQL Server Browser service "
               "and allow UDP 1434 from the function's vSwitch, or give the instance's TCP port instead "
               "(HOST,PORT, or HOST\\INSTANCE,PORT).",
    "instance": "Check the instance name (SQL Server Configuration Manager lists the instances) and that TCP/IP is "
                "enabled for it; or give its TCP port (HOST,PORT).",
    "encryption": "The instance's and the server's encryption do not meet. If the server offers none while the "
                  "instance requires it: install a certificate on SQL Server (SQL Server Configuration Manager, "
                  "Protocols, Certificate), or on a trusted network only set encrypt off (--encrypt off). If the "
                  "server encrypts and the instance says off: set encrypt require (the default) or request.",
    "certificate": "The server's certificate is not trusted or does not name the server. Either install on SQL Server "
                   "a certificate from a CA the system trusts, issued for the name you connect to; or give the CA "
                   "that signed it (--ca-file PATH, ca_file); or, knowing it disables certificate validation and "
                   "so protection against an impostor server, --trust-server-certificate "
                   "(trust_server_certificate). See docs/SQLSERVER.md, Encryption.",
    "tls": "The TLS handshake failed: check that the server's TLS versions and ciphers are current (TLS 1.2+) and "
           "see its error log. encrypt strict (TDS 8.0) needs SQL Server 2022 or later and a certificate that "
           "validates (trust_server_certificate does not apply); otherwise use encrypt require.",
    "handshake": "The server accepted the TCP connection but the login handshake failed: check that it is a SQL "
                 "Server (2008 or later) and the encryption settings (docs/SQLSERVER.md, Encryption).",
    "dropped": "The connection was closed while reading: check the server's error log and network stability.",
    "config": "The instance's settings cannot be used with this driver: the message says which (a login or password "
              "holding '};', a CA file that does not exist, an encryption mode the driver lacks).",
    "secret": "Set the password where the instance's password_ref points (env:NAME, an environment variable of "
              "the SQL check functions, or kms:NAME, a KMS secret).",
    "kms_not_found": "Create the secret in KMS in the functions' region with the SQL login's password as its text "
                     "value (or correct the name in password_ref); names are case-sensitive.",
    "kms_denied": "Let the SQL check functions' role read it: kms:GetSecretValue on acs:kms:<region>:<account>:"
                  "secret/<prefix>* (deploy/ram-policy-sql.json; name the secret with that prefix), and kms:Decrypt "
                  "on its key when the secret uses your own key.",
    "kms_throttled": "KMS refused for its request rate: run the precheck again; if it recurs, raise the KMS quota "
                     "or spread rechecks over time.",
    "kms_unreachable": "Check that the functions reach KMS's VPC endpoint (kms-vpc.<region>.aliyuncs.com, port "
                       "443: DNS and security group egress) or set PRECHECK_KMS_ENDPOINT.",
    "kms_error": "KMS could not give the secret: the message has KMS's error code; check the secret in the KMS "
                 "console.",
}


#: the same, where the checks ran on this machine (the command line, the local API): no function, VPC or role
_LOCAL_CONNECT_ADVICE = {
    "login": "Check the login name and the password in the environment variable the instance names (--password-env, "
             "password_ref); to see every database the login needs VIEW ANY DATABASE and CREATE ANY DATABASE (or "
             "sysadmin): see docs/SQLSERVER.md.",
    "dns": "Check the server name: it does not resolve from this machine (its DNS settings or hosts file).",
    "refused": "Check that SQL Server listens on TCP at that address and port (SQL Server Configuration Manager, "
               "TCP/IP enabled) and that the server's firewall allows this machine.",
    "unreachable": "No route to the server from this machine: check its network, routes and VPN.",
    "timeout": "No answer in time: check that this machine's network and the server's firewall let it reach the "
               "port, that it is a SQL Server, that it is not overloaded, and the instance's item time limit "
               "(--timeout).",
    "browser": "A named instance (HOST\\INSTANCE) needs the SQL Server Browser: start the SQL Server Browser service "
               "and allow UDP 1434 from this machine, or give the instance's TCP port instead "
               "(HOST,PORT, or HOST\\INSTANCE,PORT).",
    "secret": "Set the password in the environment of the precheck process: the variable the instance names "
              "(--password-env NAME, password_ref env:NAME), exported in the shell that runs precheck.",
    "kms_not_found": "Create the secret in KMS in the region this machine reads (PRECHECK_KMS_REGION) with the SQL "
                     "login's password as its text value (or correct the name in password_ref); names are "
                     "case-sensitive.",
    "kms_denied": "Let the AccessKey this machine uses (ALIBABA_CLOUD_ACCESS_KEY_ID) read it: kms:GetSecretValue on "
                  "the secret, and kms:Decrypt on its key when the secret uses your own key.",
    "kms_unreachable": "Check that this machine reaches KMS (its DNS and firewall, port 443): the default is the "
                       "VPC endpoint (kms-vpc.<region>.aliyuncs.com); outside the VPC set PRECHECK_KMS_ENDPOINT to "
                       "a KMS endpoint this machine reaches.",
}


def connect_advice(kind: str, ctx: CheckContext) -> str:
    """What to do about a connection (or password) failure of `kind`, worded for where the checks ran."""
    if ctx.probes.local and kind in _LOCAL_CONNECT_ADVICE:
        return _LOCAL_CONNECT_ADVICE[kind]
    return _CONNECT_ADVICE.get(kind, "Check that SQL Server is reachable and the login is valid.")


def cannot_read(error: PrecheckError, ctx: CheckContext) -> Verdict:
    """The check could not run: say why, without any secret."""
    return Verdict(
        ItemStatus.ERROR,
        f"cannot read the databases of {ctx.instance.sql_target()}: {error.message}",
        advice=connect_advice(error.kind, ctx),
        details={"reason": error.kind},
    )


def verdict(ctx: CheckContext, catalog: DatabaseCatalog, *, found: list[AffectedDatabase],
            finding_status: ItemStatus, finding_message: str, finding_advice: str, clean_message: str,
            visible_clean_message: str, caveats: Sequence[tuple[str, str]] = ()) -> Verdict:
    """The verdict of a SQL item: its finding when `found` is not empty, PASSED otherwise; either way, a
    login that may not see every database says so, as does each of the item's `caveats` (note, advice): a
    clean result with any of them becomes a WARNING."""
    details = {"databases_seen": len(catalog.databases), "complete": catalog.complete,
               "login_permissions": catalog.visibility.details(),
               **catalog.replication.details(catalog.databases)}
    notes = ([incomplete_note(ctx, catalog.visibility)] if not catalog.complete else []) + list(caveats)
    if found:
        message = "; ".join([finding_message] + [note for note, _ in notes])
        advice = " ".join([finding_advice] + [advice for _, advice in notes])
        return Verdict(finding_status, message, affected=found, advice=advice, details=details)
    if notes:
        clean = clean_message if catalog.complete else visible_clean_message
        return Verdict(ItemStatus.WARNING, f"{clean}, but {'; '.join(note for note, _ in notes)}",
                       advice=" ".join(advice for _, advice in notes), details=details)
    return Verdict(ItemStatus.PASSED, clean_message, details=details)


def incomplete_note(ctx: CheckContext, visibility: Visibility) -> tuple[str, str]:
    """(what the login misses and why the result may be incomplete, the least-privilege GRANTs that fix it)."""
    user, login = ctx.instance.user, quote_name(ctx.instance.user)
    missing, hidden, grants = [], [], []
    if not visibility.sees_unowned:
        missing.append("VIEW ANY DATABASE")
        hidden.append("databases it does not own")
        grants.append(f"GRANT VIEW ANY DATABASE TO {login};")
    if not visibility.sees_offline:
        missing.append("CREATE ANY DATABASE (or ALTER ANY DATABASE, or CREATE DATABASE in master)")
        hidden.append("OFFLINE databases")
        grants.append(f"GRANT CREATE ANY DATABASE TO {login};")
    note = (f"login '{user}' lacks {' and '.join(missing)}, so sys.databases hides {' and '.join(hidden)} from it "
            "and the result may be incomplete")
    advice = f"Grant it (in master): {' '.join(grants)}"
    if not visibility.sees_offline:
        advice += (" CREATE ANY DATABASE is the least permission that makes OFFLINE databases visible in "
                   "sys.databases; ALTER ANY DATABASE would too, but also lets the login alter and drop every "
                   "database.")
    return note, f"{advice} Or use a sysadmin login."
