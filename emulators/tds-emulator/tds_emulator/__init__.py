"""tds_emulator: a SQL Server emulator that speaks TDS 7.x, for local development and tests.

    from tds_emulator import SqlServerEmulator, Catalog
    with SqlServerEmulator({"logins": [{"name": "sa", "password": "pw", "sysadmin": True}]}) as emu:
        ...  # connect with pyodbc/FreeTDS, tsql or pytds to emu.host:emu.port

See README.md for the catalog format, fault modes and limits.
"""

from .browser import SqlBrowser
from .catalog import Backup, Catalog, CatalogError, Database, Faults, Login
from .certificates import CertificateAuthority, ServerCertificate
from .engine import Engine, Session
from .results import SqlError
from .server import SqlServerEmulator

__all__ = ["Backup", "Catalog", "CatalogError", "CertificateAuthority", "Database", "Engine", "Faults", "Login",
           "ServerCertificate", "Session", "SqlBrowser", "SqlError", "SqlServerEmulator"]
