"""The cloud result store on Tablestore. Importing this package imports the SDK (~220 ms): nothing else does."""

from .store import (
    DEFAULT_EVENTS_TTL_DAYS,
    DEFAULT_PREFIX,
    DEFAULT_RUNS_TTL_DAYS,
    DEFAULT_SOCKET_TIMEOUT_S,
    BoundedRetryPolicy,
    Connection,
    TableNames,
    TablestoreResultStore,
    create_tables,
    event_key,
    parse_url,
    table_specs,
    vpc_endpoint,
)

__all__ = [
    "DEFAULT_EVENTS_TTL_DAYS", "DEFAULT_PREFIX", "DEFAULT_RUNS_TTL_DAYS", "DEFAULT_SOCKET_TIMEOUT_S",
    "BoundedRetryPolicy", "Connection", "TableNames", "TablestoreResultStore", "create_tables", "event_key",
    "parse_url", "table_specs", "vpc_endpoint",
]
