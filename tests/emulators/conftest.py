"""The emulators' fixtures, for every test in this folder: ``sqlserver_emulator`` and ``tablestore_emulator``."""

from tests.fixtures.sqlserver import sqlserver_emulator  # noqa: F401
from tests.fixtures.tablestore import tablestore_emulator  # noqa: F401
