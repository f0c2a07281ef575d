"""The `Invoker` contract (precheck.ports): one suite, run on the in-process invoker and on `FcInvoker`.

The in-process invoker runs handlers given with `Functions.of`; `FcInvoker` talks to FC's HTTP API faked
with `responses` (`tests.fakes.FakeFc`), which records each invocation and runs it by calling the same
handler, so both are asserted the same way: by what the function received. Each case pins one promise:

- `test_the_payload_reaches_the_function_intact`: the payload bytes are what the function is invoked with.
- `test_the_same_invocation_id_runs_the_function_once`: "invoking the same id twice runs the function once";
  on FC the repeat is answered 409 `StatefulAsyncInvocationAlreadyExists`, which the invoker takes as
  success.
- `test_an_unknown_function_raises_precheck_error`: "raises `PrecheckError` if the invocation could not be
  queued"; FC answers 404 `FunctionNotFound`, the in-process invoker finds no handler. Nothing runs.
- `test_a_function_that_raises_does_not_fail_its_invocation`: the invocation is asynchronous, so what the
  function does later never reaches the caller.
- `test_a_function_that_raises_still_reaches_its_destination`: "destinations deliver each outcome", failures
  included. In-process only: on FC, destinations are FC's own job (configured on the function), not the
  invoker's, and a fake FC delivering them would test the fake.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import responses

from precheck.adapters.credentials import Credentials
from precheck.adapters.fc_invoker import FcInvoker, internal_endpoint
from precheck.adapters.inprocess_invoker import InProcessInvoker
from precheck.envelopes import DestinationEvent
from precheck.local import Functions
from precheck.ports import Invoker, PrecheckError
from tests.fakes import FakeFc

ENDPOINT = internal_endpoint("1234567890123456", "cn-hangzhou")
#: JSON with non-ASCII text, escapes and a body larger than one network read
PAYLOAD = json.dumps({"name": "销售数据 'O''Brien]; --", "quote": "\"\\\n\t", "pad": "x" * 100_000},
                     ensure_ascii=False).encode("utf-8")


@dataclass
class Subject:
    """An invoker under test, the invocations its functions received, and what reached the destination."""

    invoker: Invoker
    settle: Callable[[], None]
    runs: list[tuple[str, bytes]] = field(default_factory=list)
    deliveries: list[DestinationEvent] = field(default_factory=list)


def _handlers(subject: Subject) -> dict:
    lock = threading.Lock()

    def echo(event: bytes, context) -> str:
        with lock:
            subject.runs.append(("echo", event))
        return '{"ok": true}'

    def crash(event: bytes, context) -> str:
        with lock:
            subject.runs.append(("crash", event))
        raise RuntimeError("the check crashed")

    return {"echo": echo, "crash": crash}


def _inprocess() -> Iterator[Subject]:
    subject = Subject(invoker=None, settle=lambda: None)  # type: ignore[arg-type]
    handlers = _handlers(subject)
    handlers["collect"] = lambda event, context: subject.deliveries.append(DestinationEvent.model_validate_json(event))
    invoker = InProcessInvoker(Functions.of(handlers), {"echo": "collect", "crash": "collect"}.get)
    subject.invoker = invoker

    def settle() -> None:
        assert invoker.drain(10)

    subject.settle = settle
    yield subject
    invoker.drain(10)


def _fc() -> Iterator[Subject]:
    subject = Subject(invoker=None, settle=lambda: None)  # type: ignore[arg-type]
    fake = FakeFc(_handlers(subject))  # runs each accepted invocation before answering: nothing to wait for
    invoker = FcInvoker(None, "sqlserver-backup-precheck", "LATEST", endpoint=ENDPOINT, backoff=0.0,
                        sleep=lambda seconds: None)
    invoker.refresh(Credentials("STS.contract-akid", "contract-secret", "contract-token"))
    subject.invoker = invoker
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock, ENDPOINT)
        yield subject


IMPLEMENTATIONS = {"inprocess": _inprocess, "fc": _fc}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def subject(request) -> Iterator[Subject]:
    """An invoker of each implementation, with functions `echo` (answers) and `crash` (raises)."""
    yield from IMPLEMENTATIONS[request.param]()


def test_the_payload_reaches_the_function_intact(subject):
    """The function is invoked with exactly the payload's bytes."""
    subject.invoker.invoke_async("echo", PAYLOAD, "payload-1")
    subject.settle()
    assert subject.runs == [("echo", PAYLOAD)]


def test_the_same_invocation_id_runs_the_function_once(subject):
    """A repeated invocation id is accepted without error and not run again; another id runs."""
    for attempt in range(3):
        subject.invoker.invoke_async("echo", b'{"attempt": %d}' % attempt, "same-id")
    subject.invoker.invoke_async("echo", b'{"attempt": 9}', "other-id")
    subject.settle()
    assert sorted(subject.runs) == [("echo", b'{"attempt": 0}'), ("echo", b'{"attempt": 9}')]


def test_an_unknown_function_raises_precheck_error(subject):
    """Invoking a function that does not exist raises PrecheckError at once, and nothing runs."""
    with pytest.raises(PrecheckError) as caught:
        subject.invoker.invoke_async("no_such_function", b"{}", "unknown-1")
    subject.settle()
    assert caught.value.kind == "invoke" and "no_such_function" in caught.value.message
    assert subject.runs == []


def test_a_function_that_raises_does_not_fail_its_invocation(subject):
    """An invocation of a function that raises returns normally: the function ran, its failure is not the caller's."""
    subject.invoker.invoke_async("crash", b'{"n": 1}', "crash-1")
    subject.settle()
    assert subject.runs == [("crash", b'{"n": 1}')]


@pytest.mark.parametrize("subject", ["inprocess"], indirect=True)
def test_a_function_that_raises_still_reaches_its_destination(subject):
    """A function that raises is delivered to its destination as a failure, with its request and its error."""
    subject.invoker.invoke_async("crash", b'{"n": 2}', "crash-2")
    subject.settle()
    [delivery] = subject.deliveries
    assert delivery.failed and delivery.requestPayload == '{"n": 2}'
    error = json.loads(delivery.responsePayload)
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "the check crashed")
