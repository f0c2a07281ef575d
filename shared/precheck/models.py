"""The domain: instances, runs, items and their outcomes.

Everything that crosses a boundary (an event, a stored row, an API answer) is one of these models.
No model ever holds a password: an instance names where its password lives (`password_ref`).

No `from __future__ import annotations` here: pydantic would compile every field's annotation from its text
when a model class is made (ForwardRef), about 3 ms of every cold start; the few forward references are quoted.
"""

import enum
import os
import re
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .sqltarget import DEFAULT_ENCRYPT, MAX_CA_FILE, Encrypt, ServerNameError, SqlTarget, parse_server_name, tls_problem

#: Identifiers we accept for instances: safe in a Tablestore key, a URL path and an FC invocation id.
INSTANCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ENDPOINT = re.compile(r"^(?:(?P<scheme>https?)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>\d{1,5}))?$")

DEFAULT_ITEM_TIMEOUT_S = 10.0
MAX_ITEM_TIMEOUT_S = 120.0
#: The item time limit of an instance that names its ECS instance (unless it sets its own): the network items
#: then probe on the host through Cloud Assistant, whose delivery, run and polling take seconds, not the
#: milliseconds of a probe from the function (docs/cloud-assistant.md explains the figure).
ASSISTANT_ITEM_TIMEOUT_S = 30.0
#: ECS instance ids: `i-` and lowercase letters and digits (e.g. i-bp1iudwa5b1tqa****, ECS DescribeInstances).
ECS_INSTANCE_ID_PATTERN = r"^i-[a-z0-9]{8,30}$"


# Default factories are these Python functions, not `list`, `dict`, `time.time` or a model class: pydantic reads a
# factory's signature when it builds a schema, and a builtin's (parsed from its text signature, which compiles
# the tokenizer's patterns) or a model's (generated) costs a function's first invocation about 3 ms (cold start).
def new_list() -> list:
    return []


def new_dict() -> dict:
    return {}


def now() -> float:
    return time.time()


class Model(BaseModel):
    """Base of every model here. Schemas are built on first use, not at import: a function pays only for
    the models it touches (cold start). NaN and Infinity are refused wherever a model takes a float: JSON
    cannot carry them (pydantic would store them as null, which no model reads back)."""

    model_config = ConfigDict(defer_build=True, allow_inf_nan=False)


class ItemStatus(str, enum.Enum):
    """Status of one check item. PENDING is the only one that is not terminal."""

    PENDING = "PENDING"
    PASSED = "PASSED"
    SKIPPED = "SKIPPED"
    WARNING = "WARNING"
    TIMED_OUT = "TIMED_OUT"
    ERROR = "ERROR"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self is not ItemStatus.PENDING

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def blocks_backup(self) -> bool:
        """True for statuses that make `precheck check` exit non-zero."""
        return self in (ItemStatus.FAILED, ItemStatus.ERROR, ItemStatus.TIMED_OUT)


_SEVERITY = {
    ItemStatus.PENDING: -1,
    ItemStatus.PASSED: 0,
    ItemStatus.SKIPPED: 1,
    ItemStatus.WARNING: 2,
    ItemStatus.TIMED_OUT: 3,
    ItemStatus.ERROR: 4,
    ItemStatus.FAILED: 5,
}


class RunStatus(str, enum.Enum):
    RUNNING = "RUNNING"
    PASSED = "PASSED"
    SKIPPED = "SKIPPED"
    WARNING = "WARNING"
    TIMED_OUT = "TIMED_OUT"
    ERROR = "ERROR"
    FAILED = "FAILED"


class Endpoint(Model):
    """A `host[:port]` (optionally `http://` or `https://` in front) parsed once, validated once."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    scheme: str = "https"

    @classmethod
    def parse(cls, text: str, default_port: int, default_scheme: str = "https") -> "Endpoint":
        match = _ENDPOINT.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError("not a host[:port] endpoint (optionally with http:// or https://)")
        port = int(match["port"]) if match["port"] else default_port
        if not 0 < port < 65536:
            raise ValueError("the endpoint's port is not a number from 1 to 65535")
        host = match["host"].strip("[]")
        return cls(host=host, port=port, scheme=match["scheme"] or default_scheme)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint as a URL; the scheme's default port is left out, as SDKs sign the host without it."""
        if (self.scheme, self.port) in (("https", 443), ("http", 80)):
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{self}"


def oss_internal_endpoint(region: str) -> str:
    return f"oss-{region}-internal.aliyuncs.com"


def control_endpoint(region: str) -> str:
    return f"hbr-vpc.{region}.aliyuncs.com"


class ItemSettings(Model):
    """Per-instance settings of the check items that have any (each item reads only its own fields)."""

    model_config = ConfigDict(extra="forbid")

    log_chain_days: int = Field(default=7, ge=1, le=90,
                                description="log_chain: how many days of backup history to read")
    backup_identities: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=new_list, max_length=16,
        description="log_chain: the logins or software names of the backup service whose log backups are expected")
    log_space_percent: float = Field(default=90.0, gt=0, le=100,
                                     description="log_space: a log used above this percentage is nearly full")
    min_version: str = Field(default="10.50", pattern=r"^[0-9]{1,2}(\.[0-9]{1,4}){0,3}$",
                             description="server_version: the oldest ProductVersion supported (10.50: 2008 R2)")
    max_version: str = Field(default="16", pattern=r"^[0-9]{1,2}(\.[0-9]{1,4}){0,3}$",
                             description="server_version: the newest major version supported (16: SQL Server 2022)")


def default_item_settings() -> ItemSettings:
    return ItemSettings()


class Instance(Model):
    """A registered SQL Server instance and how to reach what its backups need."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    region: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    server: str = Field(min_length=1, max_length=255,
                        description="SQL Server name: HOST, HOST,PORT, tcp:HOST,PORT, HOST\\INSTANCE or [IPv6],PORT")
    user: str = Field(min_length=1, max_length=128)
    password_ref: str = Field(
        # kms: KMS secret names, up to 192 of letters, digits and _/+=.@- (adapters/kms.SECRET_NAME_PATTERN)
        pattern=r"^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|kms:[A-Za-z0-9_/+=.@-]{1,192})$",
        description="where the password lives: env:NAME (a variable of the check functions) or kms:NAME (a KMS "
                    "secret the SQL items' role may read); never the password itself",
    )
    oss_endpoint: str | None = Field(default=None, max_length=300)
    control_endpoint: str | None = Field(default=None, max_length=300)
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    item_timeout_s: float = Field(default=DEFAULT_ITEM_TIMEOUT_S, gt=0, le=MAX_ITEM_TIMEOUT_S)
    # each name at most 64 characters: the instance travels in every check request and destination event,
    # whose size has a fixed allowance (runner.MAX_REQUEST_ESCAPED_BYTES)
    skip_items: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=new_list, max_length=64)
    encrypt: Encrypt = Field(
        default=DEFAULT_ENCRYPT, description="TLS to SQL Server; require (the default) validates the certificate")
    trust_server_certificate: bool = Field(default=False, description="encrypt without validating the certificate")
    settings: ItemSettings = Field(default_factory=default_item_settings,
                                   description="settings of the items that have any")
    ca_file: str | None = Field(default=None, max_length=MAX_CA_FILE,
                                description="PEM file of the CA that signed the server's certificate")
    ecs_instance_id: str | None = Field(
        default=None, pattern=ECS_INSTANCE_ID_PATTERN,
        description="the ECS instance SQL Server runs on: the network items then probe from it (Cloud Assistant)")
    os_family: Literal["windows", "linux"] | None = Field(
        default=None, description="the ECS instance's OS; found through Cloud Assistant when not given")

    @field_validator("server")
    @classmethod
    def _server_is_a_server_name(cls, value: str) -> str:
        try:
            parse_server_name(value)
        except ServerNameError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _encryption_settings_agree(self) -> "Instance":
        problem = tls_problem(self.encrypt, self.trust_server_certificate, self.ca_file)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _assistant_time_limit(self) -> "Instance":
        if self.ecs_instance_id and "item_timeout_s" not in self.model_fields_set:
            self.item_timeout_s = ASSISTANT_ITEM_TIMEOUT_S
        return self

    @field_validator("oss_endpoint", "control_endpoint")
    @classmethod
    def _endpoint_parses(cls, value: str | None) -> str | None:
        if value is not None:
            Endpoint.parse(value, default_port=443)
        return value

    def sql_target(self) -> SqlTarget:
        """The SQL Server to log in to and the encryption to use."""
        return SqlTarget(parse_server_name(self.server), encrypt=self.encrypt,
                         trust_server_certificate=self.trust_server_certificate, ca_file=self.ca_file)

    def oss(self) -> Endpoint:
        return Endpoint.parse(self.oss_endpoint or oss_internal_endpoint(self.region), default_port=443)

    def control(self) -> Endpoint:
        return Endpoint.parse(self.control_endpoint or control_endpoint(self.region), default_port=443)


class AffectedDatabase(Model):
    name: str
    state: str | None = None
    recovery_model: str | None = None
    reason: str | None = Field(default=None, description="why this database is named, when its state or recovery "
                                                         "model alone does not say (the item's own words)")
    fix: str | None = Field(default=None, description="T-SQL that fixes this finding, names quoted as QUOTENAME does")


#: The largest outcome (its JSON, in bytes) anything stores: the runner fits every outcome within it, so
#: that the destination event carrying it stays under FC's 128 KB; the stores refuse anything larger.
MAX_OUTCOME_BYTES = 100_000


class Outcome(Model):
    """What one check item found. A check function returns exactly one of these."""

    item: str
    code: str = ""
    status: ItemStatus
    message: str
    affected: list[AffectedDatabase] = Field(default_factory=new_list)
    affected_omitted: int = Field(default=0, ge=0, description="affected databases left out for size")
    advice: str = ""
    duration_ms: int = Field(default=0, ge=0)
    details: dict[str, Any] = Field(default_factory=new_dict)
    finished_at: float = Field(default_factory=now, description="epoch seconds")


class CheckRequest(Model):
    """The payload `start_precheck` sends to each check function."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    instance: Instance
    item: str
    deadline: float = Field(description="epoch seconds by which the run expects every outcome")

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id


class Run(Model):
    """One precheck of one instance: which items it runs and by when they must report."""

    run_id: str
    instance_id: str
    items: list[str]
    created_at: float
    deadline: float
    trigger: str = "api"


class RunView(Model):
    """A run with its items as the API and the command line show it."""

    run_id: str
    instance_id: str
    status: RunStatus
    progress: int = Field(ge=0, le=100)
    created_at: float
    deadline: float
    trigger: str
    items: list[Outcome]


def new_run_id(now: float | None = None) -> str:
    """Time-ordered and unique: sorting run ids sorts runs by start time."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"{millis:013d}-{os.urandom(4).hex()}"  # not `secrets`: it costs a cold start 4 ms
