"""The cloud result store: three Tablestore tables, each shaped for the reads the service makes.

  config   where the instance is (`Connection`, `parse_url`, `vpc_endpoint`) and the table names
  schema   the tables (`table_specs`) and `create_tables`, behind `precheck store init`
  cells    how runs' outcomes and event keys are laid out in cells
  errors   bounded retries (`BoundedRetryPolicy`) and SDK/network errors as secret-free `StoreError`s
  store    `TablestoreResultStore`, the `ResultStore`
  sdk      the SDK's quiet import

Importing this package imports the SDK (`import tablestore`, ~220 ms): no other precheck module imports
it at import time, so only the functions that use this store pay for it. Nothing here reads the
environment: the wiring passes the configuration (`parse_url`'s keywords) and the credentials
(`refresh`).
"""

from .cells import event_key
from .config import DEFAULT_PREFIX, DEFAULT_SOCKET_TIMEOUT_S, Connection, TableNames, parse_url, vpc_endpoint
from .errors import BoundedRetryPolicy
from .schema import DEFAULT_EVENTS_TTL_DAYS, DEFAULT_RUNS_TTL_DAYS, create_tables, table_specs
from .store import TablestoreResultStore

__all__ = [
    "DEFAULT_EVENTS_TTL_DAYS", "DEFAULT_PREFIX", "DEFAULT_RUNS_TTL_DAYS", "DEFAULT_SOCKET_TIMEOUT_S",
    "BoundedRetryPolicy", "Connection", "TableNames", "TablestoreResultStore", "create_tables", "event_key",
    "parse_url", "table_specs", "vpc_endpoint",
]
