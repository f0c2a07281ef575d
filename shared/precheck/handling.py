"""What every handler does with errors, so each handler is only parse -> service -> answer.

Client errors (a bad event, an unknown instance) become a 4xx answer, never a traceback. A store failure is
answered 503 to API Gateway and re-raised otherwise, so FC retries the event and no result is lost.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from .pydanticlean import without_pydantic_plugins

# Every function's index.py imports this module before any of its models is built: the functions load no pydantic
# plugin (the product uses none), so their first model skips pydantic's plugin loader, which imports
# importlib.metadata and scans every installed distribution (~15-20 ms of each cold start; pydanticlean says why).
# Here and not in precheck/__init__: importing the library must leave a library user's own plugins alone.
without_pydantic_plugins()

from . import logs  # noqa: E402
from .eventjson import BadEvent  # noqa: E402
from .ports import NotFound, StoreError  # noqa: E402
from .settings import Settings, SettingsError  # noqa: E402

Handler = Callable[[Any, Any], str]

log = logging.getLogger("precheck.handler")

UNAVAILABLE = (503, "the result store is unavailable; try again shortly")
#: store failures that waiting does not mend: said as what they are, still 503 (the status openapi.yaml documents
#: for a store failure); the store's own message stays in the log (it names the instance and the key's id)
STORE_ANSWERS = {
    "auth": (503, "the result store (Tablestore) refused the service's credentials: check the functions' role "
                  "(or the AccessKey pair) and its permissions on the Tablestore instance; retrying will not help"),
    "credentials": (503, "the service has no credentials for the result store (Tablestore): check the functions' "
                         "role (or the AccessKey pair); retrying will not help"),
    "missing_table": (503, "a table of the result store does not exist: run `precheck store init` (or deploy "
                           "again); retrying will not help"),
}


def answers_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def wrapped(event: Any, context: Any) -> str:
        logs.setup(json_logs())  # one JSON line per invocation and per step (precheck.logs)
        function = getattr(getattr(context, "function", None), "name", None) or handler.__module__
        with logs.invocation(str(function), getattr(context, "request_id", None), event) as invocation:
            try:
                return handler(event, context)
            except BadEvent as error:
                from .answers import answer_error  # the answers' models: imported by the answers that use them

                invocation["status"] = "rejected"
                log.warning("%s: rejected event: %s", handler.__module__, error.message)
                return answer_error(event, error.status, error.message)
            except NotFound as error:
                from .answers import answer_error

                invocation["status"] = "not_found"
                return answer_error(event, 404, str(error))
            except StoreError as error:
                log.error("%s: store failed: %s", handler.__module__, error.message,
                          extra={"error_class": type(error).__name__})
                from .answers import answer_error, is_api_event

                if is_api_event(event):
                    invocation["status"] = "unavailable"
                    status, message = STORE_ANSWERS.get(error.kind, UNAVAILABLE)
                    return answer_error(event, status, message)
                raise

    return wrapped


@functools.lru_cache(maxsize=1)
def json_logs() -> bool:
    """PRECHECK_LOG_FORMAT=json (the deployed functions'): read once per process."""
    try:
        return Settings.from_environ().log_format == "json"
    except SettingsError:  # the handler's own settings read reports it
        return False
