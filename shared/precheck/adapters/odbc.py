"""ODBC connection strings for SQL Server, per driver family: FreeTDS (Debian's tdsodbc) or Microsoft's.

Both families take `SERVER=host,port` (FreeTDS 1.3's `parse_server` in src/odbc/connectparams.c reads the
port after the comma; Microsoft documents `Server=[protocol:]server[,port]`), so `PORT=`, which Microsoft's
drivers and mssql-python refuse, is never written. `DATABASE=master` logs in to master rather than the
login's default database, so a login whose default database is OFFLINE or dropped still connects (SQL Server
answers error 4064 otherwise). Where the families differ:

  FreeTDS    `TDS_Version=7.4` (no fallback to TDS 5.0 against a silent server), `ClientCharset=UTF-8`,
             `Encryption=off|request|require` (1.3 has no `strict`: TDS 8.0 came in 1.5). FreeTDS has no
             TrustServerCertificate and accepts any certificate unless `ca file` is set, which only a
             freetds.conf section can do: a target that validates its certificate is written as such a
             section (`freetds_section`) and named by `Servername=` (adapters/freetds_conf.py).
  Microsoft  `Encrypt=no|yes|strict`, `TrustServerCertificate=yes|no`, and `ServerCertificate=` for a
             certificate file, which Driver 18.1+ takes only with `Encrypt=strict`
             (https://learn.microsoft.com/sql/connect/odbc/major-version-differences). Driver 17 has no strict.
             With `Encrypt=no`, Driver 18 still validates the certificate when the server forces encryption
             (checked with 18.6 against the emulator), so `off` and `request`, which validate nothing by
             definition (as Driver 17's `Encrypt=no`), also say `TrustServerCertificate=yes`.

Nothing here opens a connection: these are pure functions of the target, so tests pin every string.
"""

from __future__ import annotations

import hashlib

from ..frozen import Frozen
from ..ports import SqlError
from ..sqltarget import SqlTarget

FREETDS, MICROSOFT = "freetds", "microsoft"
#: FreeTDS's `encryption` values for ours (src/tds/config.c, tds_config_encryption)
_FREETDS_ENCRYPTION = {"off": "off", "request": "request", "require": "require"}
#: Microsoft's `Encrypt` values: `no` is "Optional", encrypting only the login unless the server forces it
_MICROSOFT_ENCRYPT = {"off": "no", "request": "no", "require": "yes", "strict": "strict"}


def family(driver: str) -> str:
    """`freetds` for FreeTDS's driver (by its registered name or library), `microsoft` for any other."""
    lowered = driver.lower()
    return FREETDS if "freetds" in lowered or "tdsodbc" in lowered else MICROSOFT


def _supports_strict(driver: str) -> bool:
    lowered = driver.lower()
    return family(driver) == MICROSOFT and not any(old in lowered for old in ("driver 17", "driver 13", "driver 11",
                                                                              "msodbcsql17", "msodbcsql13"))


class OdbcRequest(Frozen):
    """What to hand the driver: the connection string and, for FreeTDS validation, a freetds.conf section
    (name, body) the string names with `Servername=`.

    A plain class that behaves as the frozen dataclass it was (the constructor, == and hash over both fields,
    FrozenInstanceError on assignment), so the SQL items' first call does not generate a dataclass (~0.4 ms);
    its repr names the section alone: the text holds the password."""

    __slots__ = ("text", "section")
    text: str
    section: tuple[str, str] | None

    def __init__(self, text: str, section: tuple[str, str] | None = None):
        self._init(text=text, section=section)

    def __repr__(self) -> str:
        return f"OdbcRequest(text=(not shown), section={self.section!r})"


def _freetds_value(value: str, what: str) -> str:
    """A FreeTDS connection-string value in braces.

    FreeTDS ends a braced value at the first `};` and does not undo ODBC's `}}` escape (a doubled brace
    reaches the server doubled), so values go in raw, each followed by `;`; the one sequence a braced value
    cannot hold is `};`, which would end it and let the rest add attributes. Such a value is refused.
    """
    if "};" in value or "\x00" in value:
        raise SqlError("config", f"the {what} contains '}};' or a NUL character, which the FreeTDS ODBC driver cannot "
                                 "take in a connection string")
    return "{" + value + "}"


def _microsoft_value(value: str, what: str) -> str:
    """A value in braces with `}` doubled, the ODBC escape Microsoft's drivers undo."""
    if "\x00" in value:
        raise SqlError("config", f"the {what} contains a NUL character")
    return "{" + value.replace("}", "}}") + "}"


def connection_string(target: SqlTarget, port: int, user: str, password: str, driver: str) -> OdbcRequest:
    """The request that logs `user` in to `target` at TCP `port` through `driver`. SqlError kind `config`
    when the driver cannot do what the target asks (and never with the password in the message)."""
    if family(driver) == FREETDS:
        return _freetds(target, port, user, password, driver)
    return _microsoft(target, port, user, password, driver)


def _freetds(target: SqlTarget, port: int, user: str, password: str, driver: str) -> OdbcRequest:
    if target.encrypt not in _FREETDS_ENCRYPTION:
        raise SqlError("config", f"encrypt {target.encrypt} needs TDS 8.0, which the FreeTDS ODBC driver supports only "
                                 "from version 1.5 (Debian 12's tdsodbc is 1.3): use Microsoft's ODBC Driver 18 "
                                 "(PRECHECK_ODBC_DRIVER) or encrypt require")
    head = [f"DRIVER={_freetds_value(driver, 'driver name')}"]
    section = None
    if target.validates_certificate:
        name, body = freetds_section(target, port)
        section = (name, body)
        head.append(f"Servername={name}")
    else:
        head += [f"SERVER={_freetds_value(f'{target.server.host},{port}', 'server name')}",
                 f"Encryption={_FREETDS_ENCRYPTION[target.encrypt]}"]
    text = ";".join(head + [
        "DATABASE=master",
        f"UID={_freetds_value(user, 'login name')}",
        "TDS_Version=7.4",
        "ClientCharset=UTF-8",
        f"PWD={_freetds_value(password, 'password')}",
    ]) + ";"  # FreeTDS needs the `};` to close the last braced value
    return OdbcRequest(text, section)


def freetds_section(target: SqlTarget, port: int) -> tuple[str, str]:
    """A freetds.conf section (name, body) that connects to `target` at `port` with the certificate validated:
    against `ca_file`, or the system's trusted CAs (`ca file = system`, GnuTLS's system trust), and the host
    name checked against the certificate (`check certificate hostname`, on only with a CA file).
    (src/tds/config.c, tds_parse_conf_section; src/tds/tls.c, tds_ssl_init.) No secret goes in it: the login
    and password stay in the connection string. The name is a digest of the body, so equal settings share
    one section and a section never changes."""
    host = target.server.host
    if any(char in host for char in ";#[]\n\r") or len(host) > 200:
        raise SqlError("config", "the server name cannot go in a freetds.conf section")
    lines = [f"host = {host}", f"port = {port}", f"encryption = {_FREETDS_ENCRYPTION[target.encrypt]}",
             f"ca file = {target.ca_file or 'system'}", "check certificate hostname = yes", "tds version = 7.4"]
    body = "".join(f"\t{line}\n" for line in lines)
    name = "precheck_" + hashlib.sha256(body.encode()).hexdigest()[:20]
    return name, body


def _microsoft(target: SqlTarget, port: int, user: str, password: str, driver: str) -> OdbcRequest:
    if target.encrypt == "strict" and not _supports_strict(driver):
        raise SqlError("config", f"encrypt strict needs TDS 8.0, which {driver[:60]!r} does not support: use "
                                 "Microsoft's ODBC Driver 18 or encrypt require")
    parts = [
        f"DRIVER={_microsoft_value(driver, 'driver name')}",
        f"SERVER={_microsoft_value(f'tcp:{target.server.host_literal},{port}', 'server name')}",
        "DATABASE=master",
        f"UID={_microsoft_value(user, 'login name')}",
        f"Encrypt={_MICROSOFT_ENCRYPT[target.encrypt]}",
        f"TrustServerCertificate={'no' if target.validates_certificate else 'yes'}",
    ]
    if target.ca_file:
        if target.encrypt != "strict":
            raise SqlError("config", "Microsoft's ODBC driver takes a certificate file (ServerCertificate) only with "
                                     "encrypt strict: with encrypt require, add the CA to the system's trusted "
                                     "certificates (update-ca-certificates) and leave ca_file unset")
        parts.append(f"ServerCertificate={_microsoft_value(target.ca_file, 'CA file')}")
    parts.append(f"PWD={_microsoft_value(password, 'password')}")
    return OdbcRequest(";".join(parts) + ";")
