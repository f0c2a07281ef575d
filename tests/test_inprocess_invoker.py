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
