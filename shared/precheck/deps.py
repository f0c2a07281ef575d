"""What the service and the handlers are given: a store, an invoker, the probes, a clock and a few numbers.

`wiring.build(settings, context)` makes one from configuration; tests make their own with fakes. The store
and the invoker may be given as factories: they are then built on first use, so a check function, which
needs neither, never imports the Tablestore or FC SDK (cold start).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checks import CheckItem, Probes, all_items
from .ports import Clock
from .settings import DEFAULT_DEADLINE_GRACE_S, DEFAULT_FC_CONCURRENCY

if TYPE_CHECKING:
    from .adapters.credentials import Credentials
    from .interfaces import EventSink, Invoker, ResultStore, Scheduler


class Deps:
    def __init__(self, store: ResultStore | None = None, invoker: Invoker | None = None,
                 probes: Probes | None = None, *, clock: Clock = time.time, grace_s: float = DEFAULT_DEADLINE_GRACE_S,
                 fanout_workers: int = 16, page_size: int = 100, concurrency: int = DEFAULT_FC_CONCURRENCY,
                 sleep: Callable[[float], None] = time.sleep,
                 items: Callable[[], list[CheckItem]] = all_items,
                 make_store: Callable[[Credentials | None], ResultStore] | None = None,
                 make_invoker: Callable[[Credentials | None], Invoker] | None = None,
                 credentials: Credentials | None = None, sink: EventSink | None = None,
                 make_sink: Callable[[Credentials | None], EventSink] | None = None,
                 scheduler: Scheduler | None = None, console_url: str | None = None,
                 events_to: str = "off", events_file: Path | None = None):
        self._store, self._invoker = store, invoker
        #: where run events go (precheck.completion); None: no events (and no "ended" marks)
        self._sink, self._make_sink = sink, make_sink
        #: what schedules each run's finalizer at its deadline (precheck.completion); None: nothing does
        self.scheduler = scheduler
        #: the console's address, for the link in run events
        self.console_url = console_url
        #: where run events go (file, eventbridge, off) and the file sink's file: what `GET /events` reads back
        self.events_to, self.events_file = events_to, events_file
        self._make_store, self._make_invoker = make_store, make_invoker
        self.probes = probes
        self.clock = clock
        #: time allowed beyond the item time limit for invocation queueing and delivery
        self.grace_s = grace_s
        self.fanout_workers = fanout_workers
        self.page_size = page_size
        #: FC instances the fleet recheck may keep busy at once (precheck.fleet); `sleep` waits between its polls
        self.concurrency = concurrency
        self.sleep = sleep
        self.items = items
        self.credentials = credentials
        self._lock = threading.Lock()

    @property
    def store(self) -> ResultStore:
        if self._store is None:
            self._store = self._build("_store", self._make_store, "result store")
        return self._store

    @property
    def invoker(self) -> Invoker:
        if self._invoker is None:
            self._invoker = self._build("_invoker", self._make_invoker, "invoker")
        return self._invoker

    @property
    def sink(self) -> EventSink | None:
        if self._sink is None and self._make_sink is not None:
            self._sink = self._build("_sink", self._make_sink, "event sink")
        return self._sink

    def _build(self, attribute: str, make: Callable[[Credentials | None], Any] | None, what: str) -> Any:
        """The part in `attribute`, built once (under the lock) with the current credentials."""
        with self._lock:
            part = getattr(self, attribute)
            if part is None:
                if make is None:
                    raise RuntimeError(f"these dependencies have no {what}")
                part = make(self.credentials)
            return part

    @property
    def built(self) -> list[Any]:
        """The store, invoker and sink, where they have been built."""
        return [part for part in (self._store, self._invoker, self._sink) if part is not None]

    def refresh(self, credentials: Credentials | None) -> None:
        """Take this invocation's credentials: every built part that holds credentials gets them too; parts
        built later are built with them."""
        if credentials is None:
            return
        self.credentials = credentials
        from .interfaces import Refreshable  # a check function builds no part that holds credentials (cold start)

        for part in self.built:
            if isinstance(part, Refreshable):
                part.refresh(credentials)
