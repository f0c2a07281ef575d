"""How a function or the command line loads its modules: with the cyclic garbage collector paused, and what the
first load made frozen out of every later collection.

Importing a handler (pydantic and its models, the product's modules) makes several hundred thousand objects, and
CPython's collector runs every 700 new containers: 42 young and 4 older collections during a check function's
imports, 58 collections and 11-20 ms in a `precheck check` process (issue 16, measured with `gc.callbacks`). Those
objects are modules, classes, functions and schemas that live as long as the process, so scanning them finds
nothing. `loading()` pauses the collector around the imports, and the first load in a process then moves everything
made so far to the permanent generation with `gc.freeze()`, which "ignore[s] all the future collections"
(https://docs.python.org/3.10/library/gc.html#gc.freeze): no collection of the process's life scans them again.
Reference counting still frees them (an object is never leaked by being frozen unless it is cyclic garbage
already); the collector is enabled again as it was, so what the invocations make is collected as before.

Every `functions/*/index.py` imports its modules inside `with loading():`, and the `precheck` console script is
`command()`. Imports only `gc`.
"""

from __future__ import annotations

import gc
from typing import Any

_frozen = False


class loading:  # noqa: N801 (used as a statement: `with loading():`)
    """Pause the cyclic collector while the body imports; on the process's first load, freeze what exists."""

    def __enter__(self) -> None:
        self._enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: Any) -> None:
        global _frozen
        if not _frozen:
            gc.freeze()
            _frozen = True
        if self._enabled:
            gc.enable()


def command() -> int:
    """The `precheck` console script: the command line's modules loaded as a function's are, then its `main`."""
    with loading():
        from .cli import main
    return main()
