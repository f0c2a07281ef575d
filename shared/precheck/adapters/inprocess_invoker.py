"""An in-process stand-in for FC's asynchronous invocation, destinations included.

Each invocation runs the function's real handler on a worker thread; when it returns (or raises), the
invoker builds the same destination event FC would and calls the destination function's handler with it.
Like FC it is at-least-once friendly: an invocation id seen before is not run again.

`hop_s` models the latency of FC's asynchronous path, which a laptop does not have: FC persists an async
request in its internal queue and answers at once, then a worker takes it from the queue and starts the
function ("Asynchronous invocation", https://www.alibabacloud.com/help/en/functioncompute/fc/asynchronous-invocation);
when the function ends, FC sends the result to the destination as a second asynchronous invocation
("Destinations for asynchronous invocations",
https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/result-callback). So each invocation is delayed
`hop_s` between `invoke_async` and its start, and its destination `hop_s` between the function's end and the
delivery: one hop each. FC publishes no figure for either; 0 (the default) is the laptop's behaviour, the
e2e benchmark models 20 ms. A delayed hop waits in the invoker's scheduler (one thread for all pending
delays), not on a worker of the pool, so pending hops never starve the functions that run.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..envelopes import DestinationEvent
from ..local import Functions, Handler, UnknownFunction, function_arn
from ..ports import PrecheckError

log = logging.getLogger("precheck.invoker")

MAX_REMEMBERED = 100_000


class InProcessInvoker:
    def __init__(self, functions: Functions, destination_of: Callable[[str], str | None], max_workers: int = 32,
                 later: Callable[[float, Callable[[], None]], None] | None = None, hop_s: float = 0.0):
        if not 0 <= hop_s <= 60:
            raise ValueError(f"an async hop takes 0 to 60 s here, not {hop_s:g}")
        self._functions = functions
        self._destination_of = destination_of
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fc-async")
        self._seen: dict[str, None] = {}  # invocation ids, oldest first, bounded like FC's own retention
        self._pending = 0
        self._idle = threading.Condition()
        #: runs an action after a delay (`invoke_later`, and each hop): the invoker's scheduler thread unless a
        #: test steps time itself
        self._later = later or Scheduler()
        #: FC's async latency, applied once before each invocation starts and once before its destination
        self.hop_s = hop_s

    def invoke_later(self, function_name: str, payload: bytes, invocation_id: str, delay_s: float) -> None:
        """The `Scheduler` port, as FC's `x-fc-async-delay` does it: the invocation is accepted (and its id
        remembered) now, and runs `delay_s` seconds later; `drain` does not wait for it before it is due."""
        if not 0 <= delay_s <= 3600:
            raise PrecheckError("invoke", f"FC delays an invocation by 0 to 3600 s, not {delay_s:g}")
        self._load(function_name)
        with self._idle:
            if not self._remember(invocation_id):
                return
        # once due it is dispatched as any async invocation, so it pays the hop too (FC queues it the same way)
        self._later(delay_s, lambda: self.invoke_async(function_name, payload, f"{invocation_id}/due"))

    def invoke_async(self, function_name: str, payload: bytes, invocation_id: str) -> None:
        handler = self._load(function_name)
        with self._idle:
            if not self._remember(invocation_id):
                return
            self._pending += 1  # from now on, until its destination is delivered: what `drain` waits for
        self._after_hop(lambda: self._run(function_name, handler, payload))

    def _after_hop(self, work: Callable[[], None]) -> None:
        """Run `work` (which ends one pending invocation) on a worker, `hop_s` from now; an invocation that
        cannot be started is no longer pending (so `drain` does not wait for it forever)."""
        if self.hop_s == 0:  # as before hops existed: submitted at once, a refusal raised to the caller
            try:
                self._pool.submit(work)
            except BaseException:
                self._done()
                raise
            return

        def submit() -> None:
            try:
                self._pool.submit(work)
            except RuntimeError as error:  # the pool shut down while the hop was pending
                log.warning("an async invocation could not start: %s", type(error).__name__)
                self._done()

        self._later(self.hop_s, submit)

    def _load(self, function_name: str) -> Handler:
        try:  # an unknown function fails at once, as FC answers 404
            return self._functions.load(function_name)
        except UnknownFunction as error:
            raise PrecheckError("invoke", f"cannot invoke {function_name}: {error}") from None

    def _remember(self, invocation_id: str) -> bool:
        """Whether `invocation_id` is new (then it is remembered, the oldest forgotten past MAX_REMEMBERED).
        Called with `_idle` held."""
        if invocation_id in self._seen:
            return False
        self._seen[invocation_id] = None
        if len(self._seen) > MAX_REMEMBERED:
            del self._seen[next(iter(self._seen))]
        return True

    def _run(self, function_name: str, handler: Handler, payload: bytes) -> None:
        request_id = str(uuid.uuid4())
        delivering = False
        try:
            response, error = None, None
            try:
                result = handler(payload, self._functions.context(function_name, request_id))
                response = result.decode("utf-8") if isinstance(result, bytes) else str(result)
            except Exception as exc:  # FC reports an unhandled exception to onFailure
                error = exc
            destination = self._destination_of(function_name)
            if destination:
                event = DestinationEvent.build(
                    function_arn=function_arn(function_name, self._functions.region), request_id=request_id,
                    request_payload=payload, now_ms=int(time.time() * 1000), response=response, error=error)
                if self.hop_s == 0:  # delivered at once, on this worker: no hop to model
                    self._deliver(destination, function_name, event.to_bytes())
                else:
                    delivering = True
                    self._after_hop(lambda: self._delivered(destination, function_name, event.to_bytes()))
            elif error is not None:
                log.error("async %s failed: %s", function_name, type(error).__name__)
        finally:
            if not delivering:
                self._done()

    def _deliver(self, destination: str, function_name: str, event: bytes) -> None:
        try:
            self._functions.load(destination)(event, self._functions.context(destination))
        except Exception:
            log.exception("destination %s failed for a %s outcome", destination, function_name)

    def _delivered(self, destination: str, function_name: str, event: bytes) -> None:
        try:
            self._deliver(destination, function_name, event)
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until every invocation, and its destination, has finished; False if `timeout` ran out."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


class Scheduler:
    """Runs each action after its delay, in due order, on one daemon thread (started when an action is
    waiting, ended when none is): a process that exits does not wait for a finalizer still due, and a thousand
    pending hops cost one thread, not a thousand. An action must be short (it starts work, it does not do it)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # equal due times run in the order they were scheduled
        self._changed = threading.Condition()
        self._running = False

    def __call__(self, delay_s: float, action: Callable[[], None]) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), action))
            self._changed.notify()
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, name="fc-async-delay", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while True:
                    if not self._due:
                        self._running = False
                        return
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        action = heapq.heappop(self._due)[2]
                        break
                    self._changed.wait(wait)
            try:
                action()
            except Exception as error:  # e.g. the process's invoker pool shut down meanwhile: FC would have run it
                log.warning("a delayed invocation could not start: %s", type(error).__name__)
