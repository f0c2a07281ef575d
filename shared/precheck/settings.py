"""The product's configuration, read once: the only module that reads the environment.

`Settings.from_environ(os.environ)` (or any mapping, in tests) builds one frozen object; everything else is
given its values (`wiring.build(settings, context)` hands them to the adapters). A value that does not parse
is a `SettingsError` whose message names the variable and the rule, never the value (it could be a secret).

| variable                              | setting              | default                                   |
|---------------------------------------|----------------------|-------------------------------------------|
| PRECHECK_HOME                         | home                 | ~/.precheck                               |
| PRECHECK_STORE                        | store_url            | sqlite:///<home>/precheck.db              |
| PRECHECK_INVOKER                      | invoker              | inprocess                                 |
| PRECHECK_DEADLINE_GRACE_S             | deadline_grace_s     | 2                                         |
| PRECHECK_FC_CONCURRENCY               | fc_concurrency       | 100 (FC's default instances per region)   |
| PRECHECK_FUNCTIONS_DIR                | functions_dir        | the `functions/` folder beside the package |
| PRECHECK_REGION                       | region               | local (the region fake contexts report)   |
| PRECHECK_ODBC_DRIVER                  | odbc_driver          | FreeTDS                                   |
| FREETDSCONF                           | freetds_conf         | none (FreeTDS's own search)               |
| PRECHECK_OTS_INSTANCE                 | ots_instance         | none                                      |
| PRECHECK_OTS_ENDPOINT                 | ots_endpoint         | the instance's VPC endpoint in ots_region |
| PRECHECK_OTS_REGION, ALIBABA_CLOUD_REGION_ID, FC_REGION | ots_region | none                             |
| PRECHECK_OTS_TABLE_PREFIX             | ots_table_prefix     | precheck_                                 |
| PRECHECK_OTS_TIMEOUT_S                | ots_timeout_s        | 0.5 (precheck.timeouts)                   |
| PRECHECK_FC_ENDPOINT                  | fc_endpoint          | the region's internal FC endpoint         |
| PRECHECK_FC_SERVICE, FC_SERVICE_NAME  | fc_service           | the FC context's service                  |
| PRECHECK_FC_QUALIFIER                 | fc_qualifier         | the FC context's qualifier, or FC_QUALIFIER |
| FC_QUALIFIER                          | fc_runtime_qualifier | none                                      |
| FC_ACCOUNT_ID                         | fc_account_id        | the FC context's account                  |
| FC_REGION                             | fc_region            | the FC context's region                   |
| FC_FUNCTION_NAME                      | fc_function          | none (set by FC: the checks run in FC)    |
| PRECHECK_KMS_ENDPOINT                 | kms_endpoint         | https://kms-vpc.<kms_region>.aliyuncs.com |
| PRECHECK_KMS_REGION, ALIBABA_CLOUD_REGION_ID, FC_REGION | kms_region | none                             |
| PRECHECK_KMS_TIMEOUT_S                | kms_timeout_s        | 3                                         |
| ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET, _SECURITY_TOKEN | credentials | none (FC: the context's STS keys) |

SQL passwords are not settings: an instance names one as `password_ref: env:NAME`, and the secret resolver
looks NAME up in `secret_env`, the mapping these settings were read from; or as `kms:NAME`, a KMS secret
read through kms_endpoint with the function's credentials.

One variable is also written, once per process: FREETDSCONF, which FreeTDS reads at each connection, names
the freetds.conf the process generates to validate SQL Server certificates (`export_freetds_conf`,
adapters/freetds_conf.py); an operator's own FREETDSCONF file is copied into it first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import timeouts
from .adapters.credentials import Credentials
from .frozen import Frozen

#: seconds beyond an item's time limit before its missing outcome is TIMED_OUT (queueing and delivery)
DEFAULT_DEADLINE_GRACE_S = 2.0
#: FC instances the fleet recheck may keep busy at once: FC's default quota per account and region is 100
#: instances, on-demand and provisioned together ("By default, each Alibaba Cloud account can run up to 100
#: instances in a region": https://www.alibabacloud.com/help/en/function-compute/latest/auto-scaling)
DEFAULT_FC_CONCURRENCY = 100
DEFAULT_ODBC_DRIVER = "FreeTDS"
DEFAULT_OTS_TABLE_PREFIX = "precheck_"
DEFAULT_OTS_TIMEOUT_S = timeouts.OTS_TIMEOUT_S  # each wait of a Tablestore call (precheck.timeouts)
DEFAULT_KMS_TIMEOUT_S = 3.0
INVOKERS = ("inprocess", "fc")
#: where run events go (precheck.completion): a JSON Lines file, the EventBridge bus, or nowhere
EVENT_SINKS = ("file", "eventbridge", "off")
STORE_SCHEMES = ("sqlite", "tablestore")


class SettingsError(ValueError):
    """A variable that does not parse; `variable` names it."""

    def __init__(self, variable: str, rule: str):
        super().__init__(f"{variable} {rule}")
        self.variable = variable
        self.rule = rule


class Settings(Frozen):
    """The settings, frozen once made. A plain class with slots, written as `dataclass(frozen=True)` would
    generate it (keyword arguments with the defaults below, `==` and `hash` over every field but
    `secret_env`, a repr without `credentials` and `secret_env`, `FrozenInstanceError` on assignment):
    the dataclass's code generation for 32 fields cost every function's first invocation ~1.5 ms (cold start)."""

    home: Path
    store_url: str
    invoker: str
    deadline_grace_s: float
    fc_concurrency: int
    functions_dir: Path | None
    region: str
    odbc_driver: str
    freetds_conf: Path | None
    ots_instance: str | None
    ots_endpoint: str | None
    ots_region: str | None
    ots_table_prefix: str
    ots_timeout_s: float
    fc_endpoint: str | None
    fc_service: str | None
    fc_qualifier: str | None
    fc_runtime_qualifier: str | None
    fc_account_id: str | None
    fc_region: str | None
    #: FC's own variable in every function instance (https://www.alibabacloud.com/help/en/functioncompute/fc/
    #: environment-variables): set, the process is a function in FC, not the command line on this machine
    fc_function: str | None
    kms_endpoint: str | None
    kms_region: str | None
    kms_timeout_s: float
    events: str
    events_file: Path | None  # None: events.jsonl in the home
    event_bus: str | None
    eventbridge_endpoint: str | None
    console_url: str | None
    log_format: str
    credentials: Credentials | None
    #: where `env:NAME` password references are looked up (the mapping these settings came from)
    secret_env: Mapping[str, str]

    __slots__ = ("home", "store_url", "invoker", "deadline_grace_s", "fc_concurrency", "functions_dir", "region",
                 "odbc_driver", "freetds_conf", "ots_instance", "ots_endpoint", "ots_region", "ots_table_prefix",
                 "ots_timeout_s", "fc_endpoint", "fc_service", "fc_qualifier", "fc_runtime_qualifier",
                 "fc_account_id", "fc_region", "fc_function", "kms_endpoint", "kms_region", "kms_timeout_s",
                 "events", "events_file", "event_bus", "eventbridge_endpoint", "console_url", "log_format",
                 "credentials", "secret_env")

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - _DEFAULTS.keys() - {"home", "secret_env"}
        if unknown:
            raise TypeError(f"Settings.__init__() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        set_ = object.__setattr__
        for name, default in _DEFAULTS.items():
            set_(self, name, values.get(name, default))
        set_(self, "home", values["home"] if "home" in values else Path.home() / ".precheck")
        set_(self, "secret_env", values["secret_env"] if "secret_env" in values else {})
        if not self.store_url:
            set_(self, "store_url", default_store_url(self.home))

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _COMPARED)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _COMPARED if name != "credentials")
        return f"{self.__class__.__qualname__}({shown})"

    @property
    def local(self) -> bool:
        """The functions run in this process on this machine (the in-process invoker, outside FC)."""
        return self.invoker == "inprocess" and self.fc_function is None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every variable from `environ` (the process environment when None); `overrides` win."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variables, parse in _VARIABLES:
            for variable in variables:
                raw = env.get(variable, "").strip()
                if raw:
                    values[name] = parse(variable, raw)
                    break
        key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "").strip()
        secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "").strip()
        if key_id and not secret:
            raise SettingsError("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "must be set when ALIBABA_CLOUD_ACCESS_KEY_ID is")
        if key_id:
            values["credentials"] = Credentials(key_id, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None)
        values["secret_env"] = env
        values.update(overrides)
        return cls(**values)

    @property
    def events_path(self) -> Path:
        """The local event sink's file: PRECHECK_EVENTS_FILE, else events.jsonl in the home."""
        return self.events_file or self.home / "events.jsonl"

    @property
    def store_kind(self) -> str:
        """`sqlite` or `tablestore`: the scheme of the store URL (validated when the settings are made)."""
        return self.store_url.split(":", 1)[0]

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (the command line's flags, tests)."""
        values = {name: getattr(self, name) for name in Settings.__slots__}
        if "home" in changes and "store_url" not in changes and self.store_url == default_store_url(self.home):
            values["store_url"] = ""  # derived from the home: derive it again
        values.update(changes)
        if "store_url" in changes and changes["store_url"]:
            values["store_url"] = _store("--store", changes["store_url"])
        return Settings(**values)


#: every field's default but `home` (~/.precheck, read when made) and `secret_env` (an empty mapping), in the
#: order of the fields
_DEFAULTS: dict[str, Any] = {
    "store_url": "", "invoker": "inprocess", "deadline_grace_s": DEFAULT_DEADLINE_GRACE_S,
    "fc_concurrency": DEFAULT_FC_CONCURRENCY, "functions_dir": None, "region": "local",
    "odbc_driver": DEFAULT_ODBC_DRIVER, "freetds_conf": None, "ots_instance": None, "ots_endpoint": None,
    "ots_region": None, "ots_table_prefix": DEFAULT_OTS_TABLE_PREFIX, "ots_timeout_s": DEFAULT_OTS_TIMEOUT_S,
    "fc_endpoint": None, "fc_service": None, "fc_qualifier": None, "fc_runtime_qualifier": None,
    "fc_account_id": None, "fc_region": None, "fc_function": None, "kms_endpoint": None, "kms_region": None,
    "kms_timeout_s": DEFAULT_KMS_TIMEOUT_S, "events": "file", "events_file": None, "event_bus": None,
    "eventbridge_endpoint": None, "console_url": None, "log_format": "text", "credentials": None,
}
#: what `==` and `hash` compare (and the repr shows, but `credentials`): every field but `secret_env`
_COMPARED = Settings.__slots__[:-1]


def default_store_url(home: Path) -> str:
    return f"sqlite:///{home / 'precheck.db'}"


def export_freetds_conf(path: Path) -> None:
    """The one write to the environment: FreeTDS learns its configuration file only from FREETDSCONF
    (src/tds/config.c, tds_read_conf_file), so the file this process generates is named there, once, before
    its first connection (adapters/freetds_conf.py explains why that is safe with threads)."""
    os.environ["FREETDSCONF"] = str(path)


def temporary_parent() -> str:
    """The directory tempfile tries first: the first of TMPDIR, TEMP, TMP that is set, else /tmp (tempfile's
    order on POSIX), for the generated freetds.conf's folder (adapters/freetds_conf.py, which falls back to
    tempfile itself when that directory cannot hold it)."""
    for variable in ("TMPDIR", "TEMP", "TMP"):
        if os.environ.get(variable):
            return os.environ[variable]
    return "/tmp"


def terminal_columns() -> int:
    """The terminal's width as argparse's help takes it, `shutil.get_terminal_size().columns` (Python 3.10's
    Lib/shutil.py): COLUMNS when it is a positive integer, else the width of the terminal on stdout, else 80
    (cli_args.SizedFormatter, which spares every command shutil's import)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    import sys

    stdout = sys.__stdout__
    if stdout is None:  # no stdout at all: shutil's AttributeError, its fallback
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


# --- parsing, one rule per kind of value ----------------------------------------------------------------------


def _text(variable: str, raw: str) -> str:
    return raw


def _path(variable: str, raw: str) -> Path:
    return Path(raw).expanduser()


def _seconds(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(variable, "must be a number of seconds") from None
    if not 0 <= value <= 3600 or value != value:
        raise SettingsError(variable, "must be between 0 and 3600 seconds")
    return value


def _timeout(variable: str, raw: str) -> float:
    value = _seconds(variable, raw)
    if value == 0:
        raise SettingsError(variable, "must be more than 0 seconds (a socket timeout of 0 never waits)")
    return value


def _concurrency(variable: str, raw: str) -> int:
    if not raw.isdigit() or not 2 <= int(raw) <= 100_000:
        raise SettingsError(variable, "must be a whole number of FC instances from 2 to 100000")
    return int(raw)


def _invoker(variable: str, raw: str) -> str:
    if raw not in INVOKERS:
        raise SettingsError(variable, f"must be one of: {', '.join(INVOKERS)}")
    return raw


def _log_format(variable: str, raw: str) -> str:
    if raw not in ("text", "json"):
        raise SettingsError(variable, "must be text or json")
    return raw


def _events(variable: str, raw: str) -> str:
    if raw not in EVENT_SINKS:
        raise SettingsError(variable, f"must be one of: {', '.join(EVENT_SINKS)}")
    return raw


def _store(variable: str, raw: str) -> str:
    if raw.split(":", 1)[0] not in STORE_SCHEMES or ":" not in raw:
        raise SettingsError(variable, "must be sqlite:///path.db or tablestore:[INSTANCE][?endpoint=URL&prefix=P]")
    return raw


def _url(variable: str, raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(variable, "must start with http:// or https://")
    return raw.rstrip("/")


_VARIABLES: list[tuple[str, tuple[str, ...], Callable[[str, str], Any]]] = [
    ("home", ("PRECHECK_HOME",), _path),
    ("store_url", ("PRECHECK_STORE",), _store),
    ("invoker", ("PRECHECK_INVOKER",), _invoker),
    ("deadline_grace_s", ("PRECHECK_DEADLINE_GRACE_S",), _seconds),
    ("fc_concurrency", ("PRECHECK_FC_CONCURRENCY",), _concurrency),
    ("functions_dir", ("PRECHECK_FUNCTIONS_DIR",), _path),
    ("region", ("PRECHECK_REGION",), _text),
    ("odbc_driver", ("PRECHECK_ODBC_DRIVER",), _text),
    ("freetds_conf", ("FREETDSCONF",), _path),
    ("ots_instance", ("PRECHECK_OTS_INSTANCE",), _text),
    ("ots_endpoint", ("PRECHECK_OTS_ENDPOINT",), _url),
    ("ots_region", ("PRECHECK_OTS_REGION", "ALIBABA_CLOUD_REGION_ID", "FC_REGION"), _text),
    ("ots_table_prefix", ("PRECHECK_OTS_TABLE_PREFIX",), _text),
    ("ots_timeout_s", ("PRECHECK_OTS_TIMEOUT_S",), _timeout),
    ("fc_endpoint", ("PRECHECK_FC_ENDPOINT",), _url),
    ("fc_service", ("PRECHECK_FC_SERVICE", "FC_SERVICE_NAME"), _text),
    ("fc_qualifier", ("PRECHECK_FC_QUALIFIER",), _text),
    ("fc_runtime_qualifier", ("FC_QUALIFIER",), _text),
    ("fc_account_id", ("FC_ACCOUNT_ID",), _text),
    ("fc_region", ("FC_REGION",), _text),
    ("fc_function", ("FC_FUNCTION_NAME",), _text),
    ("kms_endpoint", ("PRECHECK_KMS_ENDPOINT",), _url),
    ("kms_region", ("PRECHECK_KMS_REGION", "ALIBABA_CLOUD_REGION_ID", "FC_REGION"), _text),
    ("kms_timeout_s", ("PRECHECK_KMS_TIMEOUT_S",), _timeout),
    ("events", ("PRECHECK_EVENTS",), _events),
    ("events_file", ("PRECHECK_EVENTS_FILE",), _path),
    ("event_bus", ("PRECHECK_EVENT_BUS",), _text),
    ("eventbridge_endpoint", ("PRECHECK_EVENTBRIDGE_ENDPOINT",), _url),
    ("console_url", ("PRECHECK_CONSOLE_URL",), _url),
    ("log_format", ("PRECHECK_LOG_FORMAT",), _log_format),
]

#: every variable read here, for the README's table and its test
VARIABLES: tuple[str, ...] = tuple(variable for _, variables, _ in _VARIABLES for variable in variables) + (
    "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN")
