"""The check functions' own path: a check request parsed strictly (precheck.eventjson) without the trigger
envelopes, the route table or the API's answers, and every bad request still answered with a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from precheck.checks import all_items
from precheck.deps import Deps
from precheck.envelopes import BadEvent as EnvelopesBadEvent
from precheck.eventjson import BadEvent, parse_check_request
from precheck.testing import Client
from tests.fakes import Clock, RecordingInvoker
from tests.helpers import closed_port, load_event

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = [item.function_name for item in all_items()]


def _request(**instance: object) -> dict:
    request = load_event("check_request")
    request["instance"].update(instance)
    return request


@pytest.mark.parametrize("raw, words", [
    (b"\xff\xfe not json", "check request is not valid JSON"),
    (b"[]", "invalid check request"),
    (json.dumps({"run_id": "r", "item": "recovery_mode", "deadline": 1.0}).encode(), "instance: Field required"),
    (json.dumps(_request(item_timeout_s="soon")).encode(), "instance.item_timeout_s"),
    (json.dumps(_request(settings={"log_chain_days": 0})).encode(), "instance.settings.log_chain_days"),
    (json.dumps(_request(server="tcp:")).encode(), "instance.server"),
    (b'{"run_id": "r", "deadline": NaN}', "non-finite numbers are refused"),
])
def test_a_malformed_check_request_is_answered_with_the_problem_named(store, raw, words):
    """Every check function answers a bad request with a 400 error naming the problem, never a traceback."""
    with Client(Deps(store=store, invoker=RecordingInvoker(), clock=Clock())) as client:
        for function in FUNCTIONS:
            answer = client.invoke(function, raw)
            assert answer["status"] == 400 and words in answer["error"], (function, answer)


def test_a_rejected_check_request_never_echoes_its_values():
    """The message names the field that failed, not what it held (a value could be a secret)."""
    with pytest.raises(BadEvent) as caught:
        parse_check_request(json.dumps(_request(user="Hunter2-Secret" * 20)))
    assert "instance.user" in caught.value.message and "Hunter2" not in caught.value.message


def test_the_envelopes_module_still_offers_the_same_bad_event():
    """Code that catches envelopes.BadEvent catches what the check path raises: one class, re-exported."""
    assert EnvelopesBadEvent is BadEvent


def test_the_ports_still_offer_the_store_and_assistant_values():
    """`from precheck.ports import RunRecord` (and Recorded, EndMark, Invocation) still works: the same classes,
    loaded from precheck.portvalues on first use; any other unknown name is still an AttributeError."""
    from precheck import ports, portvalues
    from precheck.ports import EndMark, Invocation, Recorded, RunRecord

    assert (RunRecord, Recorded, EndMark, Invocation) == (portvalues.RunRecord, portvalues.Recorded,
                                                          portvalues.EndMark, portvalues.Invocation)
    with pytest.raises(AttributeError, match="no_such_port"):
        ports.no_such_port  # noqa: B018


def test_a_check_function_loads_neither_the_envelopes_nor_the_routes_nor_the_api_answers():
    """In a fresh interpreter a check function's first call (and a rejected request after it) leaves the
    trigger envelopes, the commands, the route table and the API's answers unloaded until an error needs them, and
    the store's and the assistant's dataclasses (precheck.portvalues) ungenerated."""
    request = _request(server=f"127.0.0.1,{closed_port()}")
    code = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('index', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "outcome = json.loads(module.handler(sys.argv[2].encode(), None))\n"
        "heavy = ['precheck.commands', 'precheck.envelopes', 'precheck.layout', 'precheck.answers',\n"
        "         'precheck.portvalues']\n"
        "loaded = [name for name in heavy if name in sys.modules]\n"
        "rejected = json.loads(module.handler(b'{}', None))\n"
        "print(json.dumps({'status': outcome['status'], 'loaded': loaded, 'rejected': rejected}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "functions" / "check_recovery_mode" / "index.py"),
                          json.dumps(request)], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "SQL_PASSWORD_ERP_PROD": "pw"})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["status"] == "ERROR"  # the closed port: an outcome, so the request itself was accepted
    assert seen["loaded"] == []
    assert seen["rejected"]["status"] == 400 and "invalid check request" in seen["rejected"]["error"]


@pytest.mark.parametrize("raw, words", [
    (b"[" * 33 + b"]" * 33, "nested more than 32"),
    ("[" * 33 + "]" * 33, "nested more than 32"),
    (b'{"a": "\\ud800"}', "lone UTF-16 surrogate"),
    ('{"a": "\\uDFFF"}', "lone UTF-16 surrogate"),
    (b'{"a": "\xed\xa0\x80"}', "lone UTF-16 surrogate"),  # a surrogate encoded as UTF-8: json.loads passes it
    ('{"a": "\ud800"}', "lone UTF-16 surrogate"),  # a surrogate in the text handed in
    ('{"a": "x"}'.encode("utf-16"), None),
    ('{"a": "\ud800"}'.encode("utf-16", "surrogatepass"), "lone UTF-16 surrogate"),
    (b'{"a": [1, 2.5, "\\u00e9", "\\\\ud800", {"b": null}]}', None),  # an escaped backslash, then "ud800": text
    (b'{"a": 1e400}', "non-finite"),
    (b'{"a": 9223372036854775808}', "out of range"),
])
def test_strict_json_refuses_the_same_with_or_without_walking_the_value(raw, words):
    """load_json walks the parsed value only when the text itself cannot show that nesting and surrogates are
    within bounds (issue 16: an outcome's delivery walked it three times): every refusal stays."""
    from precheck.eventjson import load_json

    if words is None:
        assert load_json(raw) == json.loads(raw)
        return
    with pytest.raises(BadEvent) as caught:
        load_json(raw)
    assert words in caught.value.message
