"""What every handler does with errors, so each handler is only parse -> service -> answer.

Client errors (a bad event, an unknown instance) become a 4xx answer, never a traceback. A store failure is
answered 503 to API Gateway and re-raised otherwise, so FC retries the event and no result is lost.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from .answers import answer_error, is_api_event
from .envelopes import BadEvent
from .ports import NotFound, StoreError

Handler = Callable[[Any, Any], str]

log = logging.getLogger("precheck.handler")


def answers_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def wrapped(event: Any, context: Any) -> str:
        try:
            return handler(event, context)
        except BadEvent as error:
            log.warning("%s: rejected event: %s", handler.__module__, error.message)
            return answer_error(event, error.status, error.message)
        except NotFound as error:
            return answer_error(event, 404, str(error))
        except StoreError as error:
            log.error("%s: store failed: %s", handler.__module__, error.message)
            if is_api_event(event):
                return answer_error(event, 503, "the result store is unavailable; try again shortly")
            raise

    return wrapped
