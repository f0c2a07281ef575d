"""Which store, invoker and probes the handlers get: chosen by the settings, never by the handlers.

`build(settings, context)` turns `Settings` into `Deps`; `deps(context)` is what a handler calls: the
process's dependencies, built once from the environment (FC keeps them across invocations of a warm
instance) unless `use()` installed others, with each invocation's credentials handed to every part that
holds some. Adapters are imported only when first used, so a function pays only for the SDKs it needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import timeouts
from .adapters.credentials import Credentials
from .checks import Probes
from .deps import Deps
from .settings import Settings, SettingsError

if TYPE_CHECKING:
    from .adapters.fc_invoker import FcInvoker
    from .local import Functions
    from .ports import EventSink, Invoker, ResultStore

_lock = threading.RLock()
_deps: Deps | None = None


def build(settings: Settings, context: Any = None) -> Deps:
    """The dependencies `settings` describe; the store and the invoker are built on first use."""
    built = Deps(make_store=lambda credentials: make_store(settings, credentials),
                 make_invoker=lambda credentials: make_invoker(settings, context, credentials),
                 grace_s=settings.deadline_grace_s, concurrency=settings.fc_concurrency,
                 credentials=credentials_of(settings, context), console_url=settings.console_url,
                 events_to=settings.events, events_file=settings.events_path if settings.events == "file" else None,
                 make_sink=None if settings.events == "off" else (
                     lambda credentials: make_sink(settings, context, credentials)),
                 # the start's fan-out threads wait on FC's Invoke API; the in-process invoker's invoke_async
                 # only queues the work on its own pool (the items still run concurrently there)
                 fanout_workers=1 if settings.invoker == "inprocess" else 16)
    built.probes = make_probes(settings, lambda: built.credentials)
    built.scheduler = LaterThroughInvoker(built)  # the run's finalizer: the invoker's delayed invocation
    return built


class LaterThroughInvoker:
    """The `Scheduler` of built dependencies: their invoker's `invoke_later` (FC's `x-fc-async-delay`, or the
    in-process invoker's timer), the invoker built only when something is scheduled."""

    def __init__(self, deps: Deps):
        self._deps = deps

    def invoke_later(self, function_name: str, payload: bytes, invocation_id: str, delay_s: float) -> None:
        self._deps.invoker.invoke_later(function_name, payload, invocation_id, delay_s)  # type: ignore[attr-defined]


def make_sink(settings: Settings, context: Any = None, credentials: Credentials | None = None) -> EventSink:
    """Where run events go: the JSON Lines file, or the custom EventBridge bus through its endpoint in the
    function's region (the VPC endpoint unless PRECHECK_EVENTBRIDGE_ENDPOINT names another)."""
    if settings.events == "file":
        from .adapters.event_sinks import JsonLinesSink

        return JsonLinesSink(settings.events_path)
    from .adapters.eventbridge_sink import EventBridgeSink, vpc_endpoint

    if not settings.event_bus:
        raise SettingsError("PRECHECK_EVENT_BUS", "must name the event bus when PRECHECK_EVENTS is eventbridge")
    region = getattr(context, "region", None) or settings.fc_region
    endpoint = settings.eventbridge_endpoint
    if endpoint is None:
        account = getattr(context, "account_id", None) or settings.fc_account_id
        if not (account and region):
            raise SettingsError("PRECHECK_EVENTBRIDGE_ENDPOINT", "must be set where FC's context gives no account "
                                                                "and region")
        endpoint = vpc_endpoint(account, region)
    return EventBridgeSink(endpoint, settings.event_bus, credentials or credentials_of(settings, context),
                           region=region)


def credentials_of(settings: Settings, context: Any) -> Credentials | None:
    """The invocation's STS credentials (FC's context), or the settings' AccessKey (locally)."""
    return Credentials.from_context(context) or settings.credentials


def make_store(settings: Settings, credentials: Credentials | None = None) -> ResultStore:
    url = settings.store_url
    if settings.store_kind == "sqlite":
        from .adapters.sqlite_store import SqliteResultStore

        return SqliteResultStore.from_url(url)
    from .adapters.tablestore import TablestoreResultStore

    return TablestoreResultStore.from_url(
        url, credentials=credentials, instance=settings.ots_instance, endpoint=settings.ots_endpoint,
        region=settings.ots_region, prefix=settings.ots_table_prefix, timeout_s=settings.ots_timeout_s)


def functions(settings: Settings) -> Functions:
    """The functions the in-process invoker runs: this checkout's, or PRECHECK_FUNCTIONS_DIR's."""
    from . import local

    if settings.functions_dir is None and settings.region == local.DEFAULT.region:
        return local.DEFAULT
    return local.Functions(settings.functions_dir, region=settings.region)


def make_invoker(settings: Settings, context: Any = None, credentials: Credentials | None = None) -> Invoker:
    if settings.invoker == "inprocess":
        from .adapters.inprocess_invoker import InProcessInvoker
        from .layout import destination_of

        return InProcessInvoker(functions(settings), destination_of)
    if settings.invoker == "fc":
        return make_fc_invoker(settings, context, credentials)
    raise ValueError(f"unknown invoker {settings.invoker!r} in PRECHECK_INVOKER (use inprocess or fc)")


def make_fc_invoker(settings: Settings, context: Any, credentials: Credentials | None = None,
                    **options: Any) -> FcInvoker:
    """FC's invoker for the function `context` describes: its service and qualifier, its account's internal
    endpoint in its region, its STS credentials; PRECHECK_FC_* settings override them (local use)."""
    from .adapters.fc_invoker import FcInvoker, internal_endpoint
    from .layout import SERVICE, check_functions, service_of

    options = {"timeout": timeouts.FC_INVOKE_ATTEMPT_S, "attempts": timeouts.FC_INVOKE_ATTEMPTS,
               "budget": timeouts.FC_INVOKE_BUDGET_S, **options}  # the one table's, unless a caller says
    service_info = getattr(context, "service", None)
    service = getattr(service_info, "name", None) or settings.fc_service or SERVICE
    qualifier = (settings.fc_qualifier or getattr(service_info, "qualifier", None)
                 or settings.fc_runtime_qualifier)
    endpoint = settings.fc_endpoint
    if endpoint is None:
        account = getattr(context, "account_id", None) or settings.fc_account_id
        region = getattr(context, "region", None) or settings.fc_region
        endpoint = internal_endpoint(account, region) if account and region else None
    options.setdefault("services", {function: service_of(function, service) for function in check_functions()
                                    if service_of(function, service) != service})
    invoker = FcInvoker(None, service, qualifier, endpoint=endpoint, **options)
    invoker.refresh(credentials or credentials_of(settings, context))
    return invoker


def make_probes(settings: Settings, credentials: Callable[[], Credentials | None] | None = None) -> Probes:
    """The real probes, each adapter imported when a check first asks for it. `credentials` gives the current
    credentials (they rotate) for the OSS probe; the settings' own by default."""

    def network():
        from .adapters.network import SocketNetworkProbe

        return SocketNetworkProbe()

    def oss():
        from .adapters.oss import Oss2BucketProbe

        current = credentials() if credentials is not None else settings.credentials
        return Oss2BucketProbe(current)

    def sql():
        from .adapters.sqlserver import PyodbcConnector

        return PyodbcConnector(settings.odbc_driver, freetds_base=settings.freetds_conf)

    def secrets():  # a new resolver, and its cache, each time: runner.run_check asks once per invocation
        from .adapters.secrets import PasswordResolver

        def kms(name: str) -> str:
            from .adapters.kms import KmsSecrets

            current = credentials() if credentials is not None else settings.credentials
            return KmsSecrets(current, settings.kms_region, endpoint=settings.kms_endpoint,
                              timeout_s=settings.kms_timeout_s).get_secret_value(name)

        return PasswordResolver(settings.secret_env, kms)

    def assistant():
        # the network items on the instance's ECS host: Cloud Assistant where checks run in FC, bash on this
        # machine where they run in-process (the local product's host is the machine it runs on)
        if settings.local:
            from .adapters.assistant_local import LocalAssistant

            return LocalAssistant()
        from .adapters.assistant_ecs import EcsAssistant

        current = credentials() if credentials is not None else settings.credentials
        return EcsAssistant(current)

    return Probes(network=network, oss=oss, sql=sql, secrets=secrets, assistant=assistant, local=settings.local)


def deps(context: Any = None) -> Deps:
    """The process's dependencies, built once; each invocation's credentials are handed to their parts."""
    global _deps
    with _lock:
        if _deps is None:
            _deps = build(Settings.from_environ(), context)
        if _deps.probes is None:
            _deps.probes = make_probes(Settings.from_environ(), lambda: _deps.credentials if _deps else None)
        current = _deps
    if context is not None:  # STS credentials rotate: every part takes each invocation's
        current.refresh(Credentials.from_context(context))
    return current


def use(new: Deps | None) -> None:
    """Install (or, with None, forget) the dependencies: for the command line, the local API and tests."""
    global _deps
    with _lock:
        _deps = new


def probes(context: Any = None) -> Probes:
    """The probes of the process's dependencies (a check function's only need)."""
    found = deps(context).probes
    if found is None:  # deps() always sets them; a Deps installed by use() may have been changed since
        raise RuntimeError("the installed dependencies have no probes")
    return found
