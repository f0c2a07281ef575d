"""The Tablestore SDK, imported once and quietly (~220 ms: it pulls aiohttp and numpy).

Only this package imports it; nothing else in precheck imports this package at import time.
"""

from __future__ import annotations

import logging
from typing import Any


def _import_sdk() -> Any:
    """Import the SDK without its import-time notices ("Native C++ encoder not available") on stderr."""
    notices = [logging.getLogger(f"tablestore.{name}") for name in ("encoder", "decoder")]
    levels = [logger.level for logger in notices]
    for logger in notices:
        logger.setLevel(logging.ERROR)
    try:
        import tablestore
        import tablestore.retry
    finally:
        for logger, level in zip(notices, levels):
            logger.setLevel(level)
    return tablestore


ots = _import_sdk()
from tablestore.error import OTSClientError, OTSServiceError  # noqa: E402  (after the quiet import)

#: the SDK logs every failed request (expected condition failures included) at ERROR, and request
#: headers at DEBUG: it gets a logger of its own, silenced; the store logs what matters.
SDK_LOGGER = "precheck.store.tablestore.sdk"
logging.getLogger(SDK_LOGGER).setLevel(logging.CRITICAL + 1)

__all__ = ["OTSClientError", "OTSServiceError", "SDK_LOGGER", "ots"]
