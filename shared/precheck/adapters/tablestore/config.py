"""Where the store's Tablestore instance is, how to talk to it, and what its tables are called.

Nothing here reads the environment: the caller (`precheck.wiring`, from `precheck.settings`) passes what
the PRECHECK_OTS_* variables hold. Messages still name those variables, so a user knows what to set.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ...frozen import Frozen
from ..credentials import Credentials
from .errors import BoundedRetryPolicy
from .sdk import SDK_LOGGER, ots

DEFAULT_PREFIX = "precheck_"
DEFAULT_SOCKET_TIMEOUT_S = 5.0

# the variables that hold these settings, named in messages (read by precheck.settings, never here)
INSTANCE_VARIABLE = "PRECHECK_OTS_INSTANCE"
ENDPOINT_VARIABLE = "PRECHECK_OTS_ENDPOINT"
REGION_VARIABLES = ("PRECHECK_OTS_REGION", "ALIBABA_CLOUD_REGION_ID", "FC_REGION")

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


def vpc_endpoint(instance: str, region: str) -> str:
    """Tablestore's endpoint inside the region's VPCs (FC functions with VPC access reach it)."""
    return f"https://{instance}.{region}.vpc.tablestore.aliyuncs.com"


# TableNames and Connection are written by hand (precheck.frozen), as the frozen dataclasses they were:
# generating a dataclass costs 0.3-0.5 ms a class on a cold start (issue 16)
class TableNames(Frozen):
    """The store's three table names."""

    __slots__ = ("instances", "runs", "events")
    instances: str
    runs: str
    events: str

    def __init__(self, instances: str = DEFAULT_PREFIX + "instances", runs: str = DEFAULT_PREFIX + "runs",
                 events: str = DEFAULT_PREFIX + "events"):
        self._init(instances=instances, runs=runs, events=events)

    @classmethod
    def with_prefix(cls, prefix: str) -> TableNames:
        names = cls(prefix + "instances", prefix + "runs", prefix + "events")
        if not all(_TABLE_NAME.match(name) for name in names.all()):
            raise ValueError(f"table prefix {prefix!r} makes invalid Tablestore table names "
                             "(letters, digits and _ only, not starting with a digit)")
        return names

    def all(self) -> tuple[str, str, str]:
        return self.instances, self.runs, self.events


class Connection(Frozen):
    """Where the store's Tablestore instance is and how to talk to it; builds clients for credentials.
    `retry_policy` (a new `BoundedRetryPolicy` by default) is shown but not compared nor hashed."""

    __slots__ = ("endpoint", "instance", "socket_timeout", "retry_policy")
    endpoint: str
    instance: str
    socket_timeout: float
    retry_policy: Any

    def __init__(self, endpoint: str, instance: str, socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_S,
                 retry_policy: Any = None):
        self._init(endpoint=endpoint, instance=instance, socket_timeout=socket_timeout,
                   retry_policy=BoundedRetryPolicy() if retry_policy is None else retry_policy)

    def _key(self) -> tuple[Any, ...]:
        return self.endpoint, self.instance, self.socket_timeout

    def client(self, credentials: Credentials) -> Any:
        """An `OTSClient` signing with `credentials` (their STS token included)."""
        options: dict[str, Any] = {}
        if credentials.security_token:
            options["sts_token"] = credentials.security_token
        return ots.OTSClient(self.endpoint, credentials.access_key_id, credentials.access_key_secret, self.instance,
                             socket_timeout=self.socket_timeout, retry_policy=self.retry_policy,
                             logger_name=SDK_LOGGER, **options)


def parse_url(url: str, *, instance: str | None = None, endpoint: str | None = None, region: str | None = None,
              prefix: str | None = None, timeout_s: float | None = None) -> tuple[Connection, TableNames]:
    """The connection and table names of a store URL: `tablestore:`, `tablestore:INSTANCE` or
    `tablestore://INSTANCE`, optionally with `?endpoint=URL&prefix=P`.

    The URL's instance, endpoint and prefix win over the keywords, which are the configured defaults
    (PRECHECK_OTS_INSTANCE, PRECHECK_OTS_ENDPOINT, the region, PRECHECK_OTS_TABLE_PREFIX,
    PRECHECK_OTS_TIMEOUT_S). Without an endpoint, the instance's VPC endpoint in `region` is used.
    """
    parts = urlsplit(url)
    if parts.scheme != "tablestore":
        raise ValueError(f"not a tablestore: URL: {url.split(':', 1)[0]!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "prefix"}
    if unknown:
        raise ValueError(f"unknown tablestore: URL option(s): {', '.join(sorted(unknown))}")
    instance = (parts.netloc or parts.path.strip("/")) or (instance or "").strip()
    if not instance:
        raise ValueError(f"the Tablestore store needs its instance name: set {INSTANCE_VARIABLE}")
    endpoint = query.get("endpoint") or (endpoint or "").strip()
    if not endpoint:
        region = (region or "").strip()
        if not region:
            raise ValueError(f"the Tablestore store needs {ENDPOINT_VARIABLE}, or a region "
                             f"({' / '.join(REGION_VARIABLES)}) to derive the VPC endpoint from")
        endpoint = vpc_endpoint(instance, region)
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"{ENDPOINT_VARIABLE} must start with http:// or https://")
    timeout = DEFAULT_SOCKET_TIMEOUT_S if timeout_s is None else float(timeout_s)
    connection = Connection(endpoint.rstrip("/"), instance, timeout)
    tables = TableNames.with_prefix(query["prefix"] if "prefix" in query else
                                    DEFAULT_PREFIX if prefix is None else prefix)
    return connection, tables
