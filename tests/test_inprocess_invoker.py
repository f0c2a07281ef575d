"""The in-process invoker: FC's async invocation and destinations, on a laptop."""

from __future__ import annotations

import json

from precheck.adapters.inprocess_invoker import InProcessInvoker
from precheck.local import Functions


def invoker_with(handlers: dict, destinations: dict) -> InProcessInvoker:
    return InProcessInvoker(Functions.of(handlers), lambda name: destinations.get(name))


def test_success_and_failure_reach_the_destination_as_fc_shapes_them():
    """A return value goes to onSuccess, an exception to onFailure, each in FC's destination event shape."""
    delivered = []

    def ok(event, context):
        return json.dumps({"echo": json.loads(event)["n"]})

    def crash(event, context):
        raise TimeoutError("took too long")

    invoker = invoker_with({"ok": ok, "crash": crash, "sink": lambda e, c: delivered.append(json.loads(e))},
                           {"ok": "sink", "crash": "sink"})
    invoker.invoke_async("ok", b'{"n": 1}', "id-1")
    invoker.invoke_async("crash", b'{"n": 2}', "id-2")
    assert invoker.drain(5)
    by_payload = {json.loads(event["requestPayload"])["n"]: event for event in delivered}
    success, failure = by_payload[1], by_payload[2]
    assert success["requestContext"]["condition"] == "" and json.loads(success["responsePayload"]) == {"echo": 1}
    assert failure["requestContext"]["condition"] == "UnhandledInvocationError"
    assert failure["responseContext"]["functionError"] == "UnhandledInvocationError"
    error = json.loads(failure["responsePayload"])
    assert (error["errorType"], error["errorMessage"]) == ("TimeoutError", "took too long")
    assert "functions/crash" in failure["requestContext"]["functionArn"]


def test_the_same_invocation_id_runs_once():
    """Invoking the same id twice runs the function once, as FC's stateful invocations do."""
    runs = []
    invoker = invoker_with({"f": lambda e, c: runs.append(e) or "ok"}, {})
    for _ in range(3):
        invoker.invoke_async("f", b"{}", "same-id")
    invoker.invoke_async("f", b"{}", "other-id")
    assert invoker.drain(5)
    assert len(runs) == 2


def test_drain_reports_work_still_running():
    """drain returns False when the work did not finish in time."""
    import threading

    release = threading.Event()
    invoker = invoker_with({"slow": lambda e, c: release.wait(5) and "done"}, {})
    invoker.invoke_async("slow", b"{}", "s")
    assert invoker.drain(0.1) is False
    release.set()
    assert invoker.drain(5) is True


# --- FC's async latency: one hop before each invocation starts, one before its destination is delivered ------


class RecordingLater:
    """The invoker's `later`, on the test's clock: keeps each delay it is asked for, runs nothing until played."""

    def __init__(self):
        from tests.event_fakes import ManualLater
        from tests.fakes import Clock

        self.clock = Clock()
        self.manual = ManualLater(self.clock)
        self.delays: list[float] = []

    def __call__(self, delay_s, action):
        self.delays.append(delay_s)
        self.manual(delay_s, action)

    def advance(self, seconds: float) -> int:
        self.clock.now += seconds
        return self.manual.play()


def wait_until(condition, timeout: float = 5.0) -> bool:
    """Whether `condition` became true within `timeout` (the pool's workers run on their own threads)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_each_invocation_waits_one_hop_to_start_and_one_hop_for_its_destination():
    """With hop_s, nothing runs at invoke time; the function starts one hop later and its destination is
    delivered one hop after it ends: exactly two delays of hop_s, in that order, and drain waits for both."""
    started, delivered = [], []
    later = RecordingLater()
    invoker = InProcessInvoker(Functions.of({"f": lambda e, c: started.append(e) or "ok",
                                             "sink": lambda e, c: delivered.append(json.loads(e))}),
                               {"f": "sink"}.get, later=later, hop_s=0.25)
    invoker.invoke_async("f", b'{"n": 1}', "id-1")
    assert later.delays == [0.25] and not started
    assert invoker.drain(0.05) is False  # the hop is pending work
    assert later.advance(0.125) == 0 and not started  # not before the hop is over
    assert later.advance(0.125) == 1
    assert wait_until(lambda: later.manual.next_due() is not None)  # the function ended, its destination waits
    assert started == [b'{"n": 1}'] and not delivered
    assert later.delays == [0.25, 0.25]
    assert later.manual.next_due() == later.clock.now + 0.25
    assert invoker.drain(0.05) is False  # the destination is pending work too
    assert later.advance(0.25) == 1
    assert invoker.drain(5) is True
    assert len(delivered) == 1 and json.loads(delivered[0]["requestPayload"]) == {"n": 1}
    assert later.delays == [0.25, 0.25]  # no third hop


def test_a_function_without_destination_waits_one_hop_only():
    later = RecordingLater()
    runs = []
    invoker = InProcessInvoker(Functions.of({"f": lambda e, c: runs.append(e) or "ok"}), lambda name: None,
                               later=later, hop_s=0.5)
    invoker.invoke_async("f", b"{}", "id")
    later.advance(0.5)
    assert invoker.drain(5) is True and len(runs) == 1
    assert later.delays == [0.5]


def test_a_delayed_invocation_keeps_its_delay_then_pays_one_hop_like_any_other():
    """invoke_later's delay is its own (x-fc-async-delay); once due the invocation is queued like any async one."""
    later = RecordingLater()
    runs = []
    invoker = InProcessInvoker(Functions.of({"f": lambda e, c: runs.append(e) or "ok"}), lambda name: None,
                               later=later, hop_s=0.25)
    invoker.invoke_later("f", b"{}", "later-id", 30)
    assert later.delays == [30]
    later.advance(30)
    assert later.delays == [30, 0.25] and not runs
    later.advance(0.25)
    assert invoker.drain(5) is True and len(runs) == 1


def test_pending_hops_hold_no_worker():
    """A thousand invocations waiting for their hop, with one worker: none has taken the worker, and once the
    hops are over every one runs and is delivered."""
    later = RecordingLater()
    runs, delivered = [], []
    invoker = InProcessInvoker(Functions.of({"f": lambda e, c: runs.append(e) or "ok",
                                             "sink": lambda e, c: delivered.append(e)}),
                               {"f": "sink"}.get, max_workers=1, later=later, hop_s=0.25)
    for n in range(1000):
        invoker.invoke_async("f", b"{}", f"id-{n}")
    assert not runs and len(later.delays) == 1000
    later.advance(0.25)
    assert wait_until(lambda: len(later.delays) == 2000)
    later.advance(0.25)
    assert invoker.drain(10) is True and len(runs) == 1000 and len(delivered) == 1000


def test_destination_events_are_the_same_with_hops():
    """The destination event does not depend on the hop (real scheduler, short hop): same shape, same keys."""

    def event_of(hop_s):
        delivered = []
        invoker = InProcessInvoker(
            Functions.of({"ok": lambda e, c: json.dumps({"echo": 1}),
                          "crash": lambda e, c: (_ for _ in ()).throw(TimeoutError("took too long")),
                          "sink": lambda e, c: delivered.append(json.loads(e))}),
            {"ok": "sink", "crash": "sink"}.get, hop_s=hop_s)
        invoker.invoke_async("ok", b'{"n": 1}', "id-1")
        invoker.invoke_async("crash", b'{"n": 2}', "id-2")
        assert invoker.drain(5) is True  # drain waits for the delayed hops and destinations
        assert len(delivered) == 2
        by_payload = {json.loads(event["requestPayload"])["n"]: event for event in delivered}

        def stable(event):
            event = json.loads(json.dumps(event))
            event.pop("timestamp", None)
            event["requestContext"].pop("requestId", None)
            return event

        return {n: stable(event) for n, event in by_payload.items()}

    assert event_of(0.005) == event_of(0)


def test_the_scheduler_runs_actions_in_due_order():
    import threading

    from precheck.adapters.inprocess_invoker import Scheduler

    ran, done = [], threading.Event()
    scheduler = Scheduler()
    scheduler(0.03, lambda: (ran.append("c"), done.set()))
    scheduler(0.01, lambda: ran.append("b"))
    scheduler(0.0, lambda: ran.append("a"))
    assert done.wait(5)
    assert ran == ["a", "b", "c"]


def test_a_hop_out_of_range_is_refused():
    import pytest

    with pytest.raises(ValueError, match="0 to 60 s"):
        InProcessInvoker(Functions.of({}), lambda name: None, hop_s=-0.1)
