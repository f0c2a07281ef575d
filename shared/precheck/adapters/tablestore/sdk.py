"""The Tablestore SDK, imported once and quietly, in part: its synchronous client without aiohttp, asyncio,
flatbuffers and numpy (`partial`, docs/cold-start.md), ~190 ms less than `import tablestore` on a cold start.

If the whole SDK is already imported (a test, a tool, the emulator imported first), that one is used as it is.
Only this package imports it; nothing else in precheck imports this package at import time.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from .partial import load


def _import_sdk() -> Any:
    """Import the SDK without its import-time notices ("Native C++ encoder not available") on stderr."""
    notices = [logging.getLogger(f"tablestore.{name}") for name in ("encoder", "decoder")]
    levels = [logger.level for logger in notices]
    for logger in notices:
        logger.setLevel(logging.ERROR)
    try:
        if "tablestore" in sys.modules:  # already imported whole (or in part) by someone else: that one
            import tablestore
            import tablestore.retry
        else:
            tablestore = load()
    finally:
        for logger, level in zip(notices, levels):
            logger.setLevel(level)
    return tablestore


ots = _import_sdk()
#: True when this process loaded the SDK in part (False: someone imported it whole first)
PARTIAL = bool(getattr(ots, "__partial__", False))
from tablestore.error import OTSClientError, OTSServiceError  # noqa: E402  (after the quiet import)

#: the SDK logs every failed request (expected condition failures included) at ERROR, and request
#: headers at DEBUG: it gets a logger of its own, silenced; the store logs what matters.
SDK_LOGGER = "precheck.store.tablestore.sdk"
logging.getLogger(SDK_LOGGER).setLevel(logging.CRITICAL + 1)

__all__ = ["PARTIAL", "OTSClientError", "OTSServiceError", "SDK_LOGGER", "ots"]
