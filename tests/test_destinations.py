"""FC's destination events, every documented shape, and the size of the worst one (issue 12, point 3).

FC documents the destination event by one sample, a failure (`condition` FunctionResourceExhausted, an empty
`functionError`, empty payloads: https://help.aliyun.com/zh/functioncompute/user-guide/result-callback);
`condition` is "the invocation's error code", a `statusCode` other than 200 a system error. A success is
told by no `functionError` and a payload that parses as an outcome, whatever `condition` holds.

The size part builds the largest destination event a precheck can cause: the most hostile valid request
(every field at its maximum, 12-byte emoji where any character goes) and outcomes whose 128-character database
names are quotes, backslashes, control characters, `<>&`, emoji, CJK or line separators, then measures the
event as Python's and as Go's JSON encoders would write it (the larger of the two per character). The figures
are printed as JSON; the bound asserted is a size, not a time.
"""

from __future__ import annotations

import json
import time

import pytest

from precheck import commands
from precheck.checks import CheckItem, Verdict
from precheck.models import AffectedDatabase, CheckRequest, ItemStatus, Run
from precheck.runner import (
    DESTINATION_LIMIT_BYTES,
    DESTINATION_MARGIN_BYTES,
    MAX_REQUEST_ESCAPED_BYTES,
    OUTCOME_BUDGET_BYTES,
    escaped_size,
    run_check,
)
from precheck.service import outcome_of
from tests.fakes import instance, probes
from tests.helpers import load_event
from tests.test_handlers import client, seed_run_for_sample  # noqa: F401  (the handler tests' fixture)

SUCCESS_SHAPES = ["destination_success", "destination_success_condition"]


def _delivery(event: dict) -> commands.CollectOutcome:
    return commands.parse_delivery(json.dumps(event).encode("utf-8"))


# --- classification ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SUCCESS_SHAPES)
def test_every_success_shape_is_the_checks_own_outcome(name):
    """A success is the outcome the check returned, whether `condition` is empty or says "Success" (which
    used to become an ERROR outcome)."""
    outcome = outcome_of(_delivery(load_event(name)))
    assert outcome.status is ItemStatus.WARNING
    assert [db.name for db in outcome.affected] == ["reporting"]


@pytest.mark.parametrize("name", SUCCESS_SHAPES)
def test_a_success_shape_through_the_collector_is_stored_as_the_checks_outcome(client, name):  # noqa: F811
    """collect_outcome stores a success of either shape as WARNING, not ERROR."""
    run: Run = seed_run_for_sample(client)
    assert client.invoke("collect_outcome", load_event(name))["stored"] is True
    stored = client.deps.store.get_run(run.instance_id, run.run_id).outcomes["recovery_mode"]
    assert stored.status is ItemStatus.WARNING


def test_the_documented_sample_resource_exhausted_is_an_error_named_by_its_condition():
    """FC's documented sample: `condition` FunctionResourceExhausted, an empty functionError and payload, so
    the function never answered: an ERROR outcome naming FunctionResourceExhausted and the attempts."""
    outcome = outcome_of(_delivery(load_event("destination_resource_exhausted")))
    assert outcome.status is ItemStatus.ERROR
    assert outcome.details["reason"] == "function_error"
    assert outcome.details["error_type"] == "FunctionResourceExhausted"
    assert outcome.details["attempts"] == 3


def test_a_function_error_is_a_failure_with_fcs_error_type_and_message():
    """functionError set: ERROR with the payload's errorType and errorMessage."""
    outcome = outcome_of(_delivery(load_event("destination_failure")))
    assert outcome.status is ItemStatus.ERROR and outcome.details["error_type"] == "FunctionTimeoutError"
    assert "Process exited unexpectedly" in outcome.message


def test_a_system_error_status_is_a_failure_even_with_an_outcome_in_the_payload():
    """A statusCode other than 2xx is a system error (FC's documentation): not the payload's verdict."""
    event = load_event("destination_success")
    event["responseContext"]["statusCode"] = 500
    outcome = outcome_of(_delivery(event))
    assert outcome.status is ItemStatus.ERROR and outcome.details["reason"] == "function_error"


def test_an_error_object_without_function_error_is_a_failure_not_an_unreadable_outcome():
    """FC's error object in the payload is a failure named by its errorType even when no field flags it."""
    event = load_event("destination_failure")
    event["requestContext"]["condition"] = ""
    event["responseContext"]["functionError"] = ""
    outcome = outcome_of(_delivery(event))
    assert outcome.details["reason"] == "function_error"
    assert outcome.details["error_type"] == "FunctionTimeoutError"


def test_null_context_fields_are_read_as_empty():
    """`condition` and `functionError` sent as null are empty, not a malformed event."""
    event = load_event("destination_success")
    event["requestContext"]["condition"] = None
    event["responseContext"]["functionError"] = None
    assert outcome_of(_delivery(event)).status is ItemStatus.WARNING


def test_a_success_whose_payload_is_not_an_outcome_is_an_error_saying_so():
    """No error flagged, no condition, a payload that is not an outcome: ERROR bad_outcome."""
    event = load_event("destination_success")
    event["responsePayload"] = "null"
    outcome = outcome_of(_delivery(event))
    assert outcome.status is ItemStatus.ERROR and outcome.details["reason"] == "bad_outcome"


# --- size --------------------------------------------------------------------------------------------------

#: 128-character names of every hostile kind; emoji and CJK count as one character each (SQL Server allows
#: 128 UTF-16 units, so 64 emoji: 128 is beyond the worst a server can return).
HOSTILE = {
    "quotes": '"' * 128,
    "backslashes": "\\" * 128,
    "control": "".join(chr(1 + n % 31) for n in range(128)),
    "html": "<>&" * 42 + "<>",
    "emoji": "\U0001F600" * 128,
    "cjk": "销" * 128,
    "line_separators": "\u2028\u2029" * 64,
    "mixed": ('"\\\x01<\U0001F600销\u2028' * 19)[:128],
}


def hostile_request() -> CheckRequest:
    """The largest check request a valid instance makes: every field at its maximum, emoji where any
    character goes."""
    try:  # the longest secret reference: a KMS secret name (192) where the model takes one, else a variable
        password_ref = instance(password_ref="kms:" + "k" * 192).password_ref
    except ValueError:
        password_ref = "env:" + "P" * 128
    inst = instance(instance_id="i" * 64, region="r" * 40, server="h" * 63 + "." + "h" * 63 + ",14330",
                    user="\U0001F600" * 128, password_ref=password_ref, bucket="b" * 63,
                    oss_endpoint="o" * 63 + "." + "o" * 63 + ":443", control_endpoint="c" * 63 + "." + "c" * 63,
                    encrypt="require", ca_file="/" + "\U0001F600" * 199,
                    skip_items=["s" * 64] * 64, item_timeout_s=120)
    return CheckRequest(run_id="9" * 13 + "-" + "f" * 8, instance=inst, item="database_status",
                        deadline=time.time() + 1e6)


def event_size(request: CheckRequest, outcome_json: str) -> int:
    """The destination event's size as the most expansive encoder writes it."""
    event = load_event("destination_failure")
    event["requestContext"].update(requestId="f" * 64, condition="UnhandledInvocationError" + "x" * 40,
                                   functionArn="acs:fc:cn-hangzhou:1234567890123456:services/" + "s" * 128
                                               + ".LATEST/functions/" + "f" * 64)
    event["requestPayload"], event["responsePayload"] = "", ""
    shell = len(json.dumps(event)) - 4  # the two empty strings' quotes are counted by escaped_size
    return shell + escaped_size(request.model_dump_json()) + escaped_size(outcome_json)


def test_the_largest_request_is_within_its_allowance():
    """The most hostile valid check request, escaped, fits MAX_REQUEST_ESCAPED_BYTES."""
    size = escaped_size(hostile_request().model_dump_json())
    print(json.dumps({"largest_request_escaped_bytes": size, "allowance": MAX_REQUEST_ESCAPED_BYTES}))
    assert size <= MAX_REQUEST_ESCAPED_BYTES


def test_the_worst_destination_event_keeps_its_margin_under_128_kb():
    """5,000 affected databases of each hostile kind of name, huge message, advice and details, with the
    largest request: every destination event stays DESTINATION_MARGIN_BYTES under the limit after escaping
    (it used to count `<>&` as one byte, which Go's encoder writes as six, and ignore the request)."""
    request, figures = hostile_request(), {}
    for kind, name in HOSTILE.items():
        names = [f"{n:04d}{name}"[:128] for n in range(5000)]
        verdict = Verdict(ItemStatus.FAILED, name * 40, advice=name * 80, details={"reason": name, "blob": name * 100},
                          affected=[AffectedDatabase(name=n, state=name[:60]) for n in names])
        item = CheckItem("database_status", "CODE", "hostile", 99, lambda ctx, verdict=verdict: verdict)
        outcome = run_check(item, request, probes())
        size = event_size(request, outcome.model_dump_json())
        figures[kind] = {"event_bytes": size, "listed": len(outcome.affected), "omitted": outcome.affected_omitted}
        assert outcome.status is ItemStatus.FAILED
        assert len(outcome.affected) + outcome.affected_omitted == 5000
        assert size <= DESTINATION_LIMIT_BYTES - DESTINATION_MARGIN_BYTES, kind
    print(json.dumps({"destination_limit": DESTINATION_LIMIT_BYTES, "margin": DESTINATION_MARGIN_BYTES,
                      "outcome_budget": OUTCOME_BUDGET_BYTES, "worst_event_bytes": max(
                          value["event_bytes"] for value in figures.values()), "by_name_kind": figures}))


def test_escaped_size_counts_what_each_encoder_expands():
    """`"` and `\\` double, a control character is six bytes, `<` six (Go), an emoji twelve (Python)."""
    assert escaped_size('"') == 2 + 2
    assert escaped_size("\\") == 2 + 2
    assert escaped_size("\x01") == 2 + 6
    assert escaped_size("<") == 2 + 6
    assert escaped_size("\U0001F600") == 2 + 12
    assert escaped_size("\b") == 2 + 6
