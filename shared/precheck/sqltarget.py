"""Where a SQL Server is and how to talk to it: the server names DBAs write, and the encryption settings.

Server names are the forms SQL Server's own tools take (SSMS, sqlcmd, connection strings' `Server=`):

  host                 port 1433
  host,port            a TCP port
  tcp:host,port        the same, protocol named (TCP is the only protocol a function can use)
  host\\INSTANCE        a named instance: its port comes from the SQL Server Browser (UDP 1434, MC-SQLR)
  host\\INSTANCE,port   a named instance at a known port (the Browser is not asked, as with SQL Server's
                       client drivers)
  [::1],1433           an IPv6 address in brackets (or bare, when no port follows: ::1)

(https://learn.microsoft.com/sql/tools/sqlcmd/sqlcmd-utility, option -S; MC-SQLR for the Browser.)
Anything else is refused with a message naming these forms: `host:port` is not one of them (SQL Server
writes the port after a comma, and a colon is ambiguous with IPv6); `np:`, `lpc:` and `(local)` name local
protocols a function in a VPC cannot use.

Encryption mirrors Microsoft's ODBC Driver 18 (docs/SQLSERVER.md, "Encryption"): `require` by default, with
the server's certificate validated against the system's trusted CAs, or a CA file, unless
`trust_server_certificate` says not to.
"""

from __future__ import annotations

import re
from typing import Literal

from .frozen import Frozen

DEFAULT_PORT = 1433
BROWSER_PORT = 1434
Encrypt = Literal["off", "request", "require", "strict"]
ENCRYPT_MODES: tuple[Encrypt, ...] = ("off", "request", "require", "strict")
DEFAULT_ENCRYPT: Encrypt = "require"
FORMS = "HOST, HOST,PORT, tcp:HOST,PORT, HOST\\INSTANCE, HOST\\INSTANCE,PORT or [IPv6],PORT"
MAX_CA_FILE = 200

_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
# SQL Server instance names: at most 16 characters, a letter or underscore first, then letters, digits, `_`
# or `$` (https://learn.microsoft.com/sql/sql-server/install/instance-configuration, "Instance ID");
# ASCII only here, as the Browser request encodes the name in the server's code page.
_INSTANCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,15}$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_LOCAL_PROTOCOLS = ("np:", "lpc:", "admin:", "via:")


class ServerNameError(ValueError):
    """A server name in none of the accepted forms; the message says which forms are."""


class ServerName(Frozen):
    """A parsed server name. `port` None means 1433 for a default instance, the Browser's answer for a
    named one. Frozen (precheck.frozen), written by hand: generating a dataclass costs every handler's cold
    start 0.3-0.5 ms a class (issue 16)."""

    __slots__ = ("host", "port", "instance")
    host: str
    port: int | None
    instance: str | None

    def __init__(self, host: str, port: int | None = None, instance: str | None = None) -> None:
        self._init(host=host, port=port, instance=instance)

    @classmethod
    def parse(cls, text: str) -> ServerName:
        return parse_server_name(text)

    @property
    def needs_browser(self) -> bool:
        return self.instance is not None and self.port is None

    @property
    def tcp_port(self) -> int:
        """The port to connect to when no Browser is needed."""
        return self.port if self.port is not None else DEFAULT_PORT

    @property
    def host_literal(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def __str__(self) -> str:
        text = self.host_literal + (f"\\{self.instance}" if self.instance else "")
        return text + (f",{self.port}" if self.port is not None else "")


def parse_server_name(text: str) -> ServerName:
    """`text` as a ServerName; ServerNameError naming the accepted forms when it is none of them. Messages
    never quote the text: a password typed into the server field (`host,1433;PWD=...`) must not come back
    in an answer or a log line."""
    if not isinstance(text, str):
        raise ServerNameError(f"the server name must be a string in one of the forms {FORMS}")
    raw = text.strip()
    if not raw or any(ord(char) < 32 or ord(char) == 127 for char in raw):
        raise ServerNameError(f"empty server name or control characters in it: use {FORMS}")
    lowered = raw.lower()
    if lowered.startswith(_LOCAL_PROTOCOLS) or lowered in (".", "(local)", "(localdb)") or lowered.startswith(
            ("(localdb)\\", ".\\", "(local)\\")):
        raise ServerNameError(f"the server name names a local protocol (named pipes, shared memory, LocalDB) a "
                              f"function cannot use: give the server's TCP address, {FORMS}")
    if lowered.startswith("tcp:"):
        raw = raw[4:].strip()
    rest, port = raw, None
    if "," in raw:
        rest, _, port_text = raw.rpartition(",")
        port_text = port_text.strip()
        if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
            raise ServerNameError("the port after the last comma of the server name is not a number from 1 to 65535")
        port = int(port_text)
        rest = rest.strip()
    host, instance = _host_and_instance(rest)
    return ServerName(host=host, port=port, instance=instance)


def _host_and_instance(text: str) -> tuple[str, str | None]:
    instance = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ServerNameError("unclosed '[' in the server name: write an IPv6 address as [ADDRESS],PORT")
        host, tail = text[1:end], text[end + 1:]
        if tail.startswith("\\"):
            instance = _instance(tail[1:])
        elif tail:
            raise ServerNameError(f"unexpected text after ']' in the server name: use {FORMS}")
        if not _is_ipv6(host):
            raise ServerNameError("what the server name has in brackets is not an IPv6 address")
        return host, instance
    if "\\" in text:
        text, _, name = text.partition("\\")
        instance = _instance(name)
    if ":" in text:
        if _is_ipv6(text):
            return text, instance
        raise ServerNameError(f"the server name is not a SQL Server name: SQL Server writes the port after a comma "
                              f"(HOST,PORT), and IPv6 addresses go in brackets; use {FORMS}")
    if not _is_host_name(text):
        raise ServerNameError(f"the server name is not a SQL Server name: use {FORMS}")
    return text, instance


def _instance(name: str) -> str:
    if not _INSTANCE.match(name):
        raise ServerNameError("the instance name after '\\' in the server name is not a SQL Server instance name "
                              "(at most 16 letters, digits, '_' or '$', starting with a letter or '_')")
    return name


def _is_ipv6(text: str) -> bool:
    import ipaddress  # only for names with a colon: every handler imports this module (cold start)

    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _is_host_name(text: str) -> bool:
    """A DNS name or an IPv4 address (RFC 1123 labels; `_` allowed, as Windows names use it)."""
    if not text or len(text) > 253:
        return False
    return all(_LABEL.match(label) for label in text.rstrip(".").split("."))


# --- encryption -------------------------------------------------------------------------------------------


def tls_problem(encrypt: str, trust_server_certificate: bool, ca_file: str | None) -> str | None:
    """Why these encryption settings do not go together, or None when they do."""
    if encrypt not in ENCRYPT_MODES:
        return f"encrypt must be one of {', '.join(ENCRYPT_MODES)}"
    if ca_file is not None:
        if not ca_file.startswith("/") or len(ca_file) > MAX_CA_FILE:
            return f"ca_file must be an absolute path of at most {MAX_CA_FILE} characters"
        if any(ord(char) < 32 or ord(char) == 127 or char in ";#{}" for char in ca_file) or "  " in ca_file:
            # what FreeTDS's freetds.conf reader and ODBC braces can carry (docs/SQLSERVER.md)
            return "ca_file must not hold control characters, ';', '#', braces or double spaces"
    if trust_server_certificate and ca_file is not None:
        return ("give either ca_file (validate the server's certificate against that CA) or "
                "trust_server_certificate (no validation), not both")
    if encrypt in ("off", "request") and (trust_server_certificate or ca_file is not None):
        return (f"encrypt {encrypt} does not validate the server's certificate: trust_server_certificate and "
                "ca_file apply to encrypt require or strict")
    if encrypt == "strict" and trust_server_certificate:
        return "encrypt strict always validates the certificate (TDS 8.0): trust_server_certificate cannot apply"
    return None


class SqlTarget(Frozen):
    """A SQL Server to log in to: its name and the encryption to use. ValueError when the encryption settings
    do not go together (`tls_problem`)."""

    __slots__ = ("server", "encrypt", "trust_server_certificate", "ca_file")
    server: ServerName
    encrypt: str
    trust_server_certificate: bool
    ca_file: str | None

    def __init__(self, server: ServerName, encrypt: str = DEFAULT_ENCRYPT, trust_server_certificate: bool = False,
                 ca_file: str | None = None) -> None:
        self._init(server=server, encrypt=encrypt, trust_server_certificate=trust_server_certificate,
                   ca_file=ca_file)
        problem = tls_problem(self.encrypt, self.trust_server_certificate, self.ca_file)
        if problem:
            raise ValueError(problem)

    @classmethod
    def at(cls, host: str, port: int, **tls: object) -> SqlTarget:
        """A target at a host and TCP port (tests, the demo)."""
        return cls(ServerName(host=host, port=port), **tls)  # type: ignore[arg-type]

    @property
    def validates_certificate(self) -> bool:
        return self.encrypt == "strict" or (self.encrypt == "require" and not self.trust_server_certificate)

    def __str__(self) -> str:
        return str(self.server)
