"""Each handler in functions/ driven with sample events in FC's shapes (tests/events/*.json).

Fan-out is recorded, not executed, here: the sample instances point at private addresses that tests never
contact. The end-to-end flow, with the check functions really running, is in test_flow.py.
"""

from __future__ import annotations

import json

import pytest

from precheck import wiring
from precheck.envelopes import DestinationEvent
from precheck.local import load_handler
from precheck.models import CheckRequest, ItemStatus, Outcome, Run
from precheck.deps import Deps
from tests.helpers import api_body, event_bytes, load_event


def destination_event(**fields) -> bytes:
    """The destination event FC delivers, as bytes (see DestinationEvent.build)."""
    return DestinationEvent.build(**fields).to_bytes()


class RecordingInvoker:
    """Records async invocations instead of running them."""

    def __init__(self):
        self.calls: list[tuple[str, dict, str]] = []

    def invoke_async(self, function_name, payload, invocation_id):
        self.calls.append((function_name, json.loads(payload), invocation_id))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def recorded(store):
    deps = Deps(store=store, invoker=RecordingInvoker(), clock=Clock(), grace_s=2.0, page_size=2)
    wiring.use(deps)
    yield deps
    wiring.use(None)


def call(function: str, event) -> str:
    raw = event if isinstance(event, bytes) else event_bytes(event)
    return load_handler(function)(raw, None)


def register(recorded, instance_id="erp-prod") -> dict:
    event = load_event("api_register_instance")
    body = json.loads(event["body"])
    body["instance_id"] = instance_id
    event["body"] = json.dumps(body)
    status, answer = api_body(call("start_precheck", event))
    assert status == 202, answer
    return answer


# --- start_precheck ---------------------------------------------------------------------------------------


def test_registering_through_the_api_records_the_instance_and_fans_out_one_call_per_item(recorded):
    """POST /instances stores the instance and invokes each check function once, asynchronously."""
    answer = register(recorded)
    assert answer["started"] is True
    assert answer["run"]["status"] == "RUNNING" and answer["run"]["progress"] == 0
    assert [item["status"] for item in answer["run"]["items"]] == ["PENDING"] * 4
    assert recorded.store.get_instance("erp-prod").bucket == "erp-sql-backups"
    functions = [name for name, _, _ in recorded.invoker.calls]
    assert functions == ["check_oss_connectivity", "check_control_network", "check_recovery_mode",
                         "check_database_status"]
    ids = {invocation_id for _, _, invocation_id in recorded.invoker.calls}
    assert len(ids) == 4
    for _, payload, _ in recorded.invoker.calls:
        request = CheckRequest.model_validate(payload)
        assert request.run_id == answer["run"]["run_id"]
        assert request.deadline == answer["run"]["deadline"]


def test_a_second_start_while_running_returns_the_running_run(recorded):
    """Starting again while the last run is RUNNING returns that run (200) and invokes nothing."""
    first = register(recorded)
    status, answer = api_body(call("start_precheck", load_event("api_start_precheck")))
    assert status == 200
    assert answer["started"] is False
    assert answer["run"]["run_id"] == first["run"]["run_id"]
    assert len(recorded.invoker.calls) == 4


def test_a_start_after_the_deadline_starts_a_new_run(recorded):
    """Once the last run is over (its deadline passed), a start creates a new run."""
    first = register(recorded)
    recorded.clock.now += 60
    status, answer = api_body(call("start_precheck", load_event("api_start_precheck")))
    assert status == 202
    assert answer["run"]["run_id"] != first["run"]["run_id"]
    assert len(recorded.invoker.calls) == 8


def test_starting_an_unknown_instance_is_404(recorded):
    """A start for an instance that was never registered answers 404 naming it."""
    status, answer = api_body(call("start_precheck", load_event("api_start_precheck")))
    assert status == 404
    assert "erp-prod" in answer["error"]


def test_skipped_items_are_recorded_without_invocation(recorded):
    """Items in skip_items are SKIPPED at once and never invoked."""
    event = load_event("api_register_instance")
    body = json.loads(event["body"])
    body["skip_items"] = ["oss_connectivity"]
    event["body"] = json.dumps(body)
    status, answer = api_body(call("start_precheck", event))
    assert status == 202
    assert answer["run"]["items"][0]["status"] == "SKIPPED"
    assert "check_oss_connectivity" not in [name for name, _, _ in recorded.invoker.calls]


class FailingInvoker:
    def invoke_async(self, function_name, payload, invocation_id):
        from precheck.ports import PrecheckError

        if function_name == "check_recovery_mode":
            raise PrecheckError("invoke", "FC answered 500 three times")


def test_an_item_that_cannot_be_invoked_is_recorded_as_error(store):
    """A check function that cannot be invoked is an ERROR item with the reason, not left pending."""
    wiring.use(Deps(store=store, invoker=FailingInvoker(), clock=Clock()))
    try:
        status, answer = api_body(call("start_precheck", load_event("api_register_instance")))
    finally:
        wiring.use(None)
    items = {item["item"]: item for item in answer["run"]["items"]}
    assert items["recovery_mode"]["status"] == "ERROR"
    assert "FC answered 500 three times" in items["recovery_mode"]["message"]
    assert items["database_status"]["status"] == "PENDING"


# --- bad input --------------------------------------------------------------------------------------------


def api_register_with(body: str) -> dict:
    event = load_event("api_register_instance")
    event["body"] = body
    return event


@pytest.mark.parametrize("body, status, words", [
    ("{not json", 400, "request body is not valid JSON"),
    ("[1, 2]", 400, "must be a JSON object"),
    ("", 400, "request body is empty"),
    (json.dumps({"instance_id": "x", "region": "cn-hangzhou", "server": "h"}), 400, "user: Field required"),
    (json.dumps({"instance_id": "x", "region": "cn-hangzhou", "server": "h", "user": "u",
                 "password_ref": "env:P", "item_timeout_s": "soon"}), 400, "item_timeout_s"),
    (json.dumps({"instance_id": "../../etc", "region": "cn-hangzhou", "server": "h", "user": "u",
                 "password_ref": "env:P"}), 400, "instance_id"),
    ("x" * (1024 * 1024 + 1), 413, "larger than 1048576 bytes"),
])
def test_bad_registration_requests_get_a_4xx_naming_the_problem(recorded, body, status, words):
    """Bad JSON, missing fields, wrong types and oversized bodies are answered 4xx with a clear message."""
    got_status, answer = api_body(call("start_precheck", api_register_with(body)))
    assert got_status == status
    assert words in answer["error"]
    assert recorded.invoker.calls == []


def test_a_password_in_a_registration_is_refused_and_never_echoed(recorded, caplog):
    """A request that carries a password is refused, and the password is in neither answer nor logs."""
    body = json.dumps({"instance_id": "x", "region": "cn-hangzhou", "server": "h", "user": "u",
                       "password": "Hunter2-Secret"})
    answer = call("start_precheck", api_register_with(body))
    status, parsed = api_body(answer)
    assert status == 400
    assert "password_ref" in parsed["error"]
    assert "Hunter2-Secret" not in answer
    assert "Hunter2-Secret" not in caplog.text


@pytest.mark.parametrize("raw", [b"\xff\xfe not json", b"[]", b"{}", b'{"httpMethod": 5}', b"null"])
def test_malformed_events_get_an_error_answer_not_a_traceback(recorded, raw):
    """Events that are no event at all get an error answer; nothing is raised to the runtime."""
    answer = json.loads(call("start_precheck", raw))
    assert "error" in answer or answer.get("statusCode", 0) >= 400


def test_an_unknown_route_is_404(recorded):
    """A request for a route start_precheck does not serve is 404."""
    event = load_event("api_start_precheck")
    event["path"], event["pathParameters"] = "/other", {}
    status, answer = api_body(call("start_precheck", event))
    assert status == 404


# --- timer and EventBridge --------------------------------------------------------------------------------


def test_the_timer_fans_out_one_start_per_page_of_instances(recorded):
    """The timer invokes start_precheck once per page of registered instances, each with its page."""
    for n in range(5):
        recorded.store.save_instance(_instance(f"inst-{n}"))
    answer = json.loads(call("start_precheck", load_event("timer_recheck")))
    assert answer["summary"] == {"pages": 3, "instances": 5}
    pages = sorted(payload["recheck"] for name, payload, _ in recorded.invoker.calls)
    assert pages == [["inst-0", "inst-1"], ["inst-2", "inst-3"], ["inst-4"]]
    assert len({invocation_id for _, _, invocation_id in recorded.invoker.calls}) == 3
    assert {name for name, _, _ in recorded.invoker.calls} == {"start_precheck"}


def test_a_recheck_page_starts_each_of_its_instances(recorded):
    """A page payload starts a precheck of each instance and counts unknown ones."""
    for n in range(2):
        recorded.store.save_instance(_instance(f"inst-{n}"))
    answer = json.loads(call("start_precheck", {"recheck": ["inst-0", "inst-1", "gone"], "trigger": "timer"}))
    assert answer["summary"] == {"started": 2, "unknown": 1}
    assert len(recorded.invoker.calls) == 8


def test_a_registration_event_delivered_twice_is_handled_once(recorded):
    """EventBridge may repeat an event: the same source and id registers and starts once."""
    event = load_event("eventbridge_instance_registered")
    first = json.loads(call("start_precheck", event))
    second = json.loads(call("start_precheck", event))
    assert first["started"] is True and first["instance"]["instance_id"] == "crm-prod"
    assert second == {"instance": first["instance"], "duplicate": True}
    assert len(recorded.invoker.calls) == 4


def test_a_registration_event_with_bad_data_is_rejected(recorded):
    """An EventBridge event whose data is no instance is answered with an error naming the field."""
    event = load_event("eventbridge_instance_registered")
    del event["data"]["user"]
    answer = json.loads(call("start_precheck", event))
    assert answer["status"] == 400 and "user" in answer["error"]


# --- collect_outcome --------------------------------------------------------------------------------------


def _instance(instance_id: str):
    from tests.fakes import instance

    return instance(instance_id=instance_id)


def seed_run_for_sample(recorded) -> Run:
    request = CheckRequest.model_validate(load_event("check_request"))
    run = Run(run_id=request.run_id, instance_id=request.instance_id,
              items=["oss_connectivity", "control_network", "recovery_mode", "database_status"],
              created_at=recorded.clock.now, deadline=recorded.clock.now + 12)
    recorded.store.save_instance(request.instance)
    recorded.store.create_run(run)
    return run


def test_a_success_destination_stores_the_outcome_once(recorded):
    """The same destination event collected twice stores one outcome."""
    run = seed_run_for_sample(recorded)
    first = json.loads(call("collect_outcome", load_event("destination_success")))
    second = json.loads(call("collect_outcome", load_event("destination_success")))
    assert first == {"stored": True, "reason": "stored"}
    assert second["stored"] is False and "duplicate" in second["reason"]
    stored = recorded.store.get_run(run.instance_id, run.run_id).outcomes
    assert list(stored) == ["recovery_mode"]
    assert stored["recovery_mode"].status is ItemStatus.WARNING
    assert stored["recovery_mode"].affected[0].name == "reporting"


def test_a_failure_destination_becomes_an_error_outcome_with_the_reason(recorded):
    """A crashed check (onFailure) is stored as ERROR with FC's errorType and errorMessage."""
    run = seed_run_for_sample(recorded)
    json.loads(call("collect_outcome", load_event("destination_failure")))
    outcome = recorded.store.get_run(run.instance_id, run.run_id).outcomes["recovery_mode"]
    assert outcome.status is ItemStatus.ERROR
    assert "FunctionTimeoutError" in outcome.message and "Process exited unexpectedly" in outcome.message
    assert outcome.details["attempts"] == 4


def test_an_outcome_collected_after_the_deadline_is_timed_out_and_cannot_flip_the_run(recorded):
    """A late outcome is stored as TIMED_OUT; the run shown before and after it arrives is the same."""
    run = seed_run_for_sample(recorded)
    recorded.clock.now = run.deadline + 5
    status, before = api_body(call("get_last_result", load_event("api_get_last_result")))
    call("collect_outcome", load_event("destination_success"))
    status, after = api_body(call("get_last_result", load_event("api_get_last_result")))
    assert before["status"] == after["status"] == "TIMED_OUT"
    items = {item["item"]: item for item in after["items"]}
    assert items["recovery_mode"]["status"] == "TIMED_OUT"
    assert items["recovery_mode"]["details"]["late_status"] == "WARNING"


def test_an_outcome_for_an_unknown_run_is_not_stored(recorded):
    """An outcome whose run does not exist is reported, not stored, and nothing is raised."""
    answer = json.loads(call("collect_outcome", load_event("destination_success")))
    assert answer["stored"] is False and "no run" in answer["reason"]


@pytest.mark.parametrize("raw", [b"{}", b"garbage", json.dumps({"requestContext": {}, "requestPayload": "{}"}).encode()])
def test_a_malformed_destination_event_is_answered_not_raised(recorded, raw):
    """A destination event that cannot be read gets an error answer, never a traceback."""
    answer = json.loads(call("collect_outcome", raw))
    assert answer["status"] == 400 and answer["error"]


def test_an_answer_that_is_no_outcome_is_stored_as_error(recorded):
    """A check function that answered with something other than an outcome gives an ERROR item."""
    run = seed_run_for_sample(recorded)
    request = load_event("check_request")
    event = destination_event(function_arn="arn", request_id="r", request_payload=json.dumps(request).encode(),
                              now_ms=0, response='{"error": "bad"}')
    call("collect_outcome", event)
    outcome = recorded.store.get_run(run.instance_id, run.run_id).outcomes["recovery_mode"]
    assert outcome.status is ItemStatus.ERROR and "no readable outcome" in outcome.message


# --- get_last_result -------------------------------------------------------------------------------------


def test_last_result_shows_the_latest_run_with_pending_items_then_timed_out(recorded):
    """Before the deadline missing items are PENDING (run RUNNING); after it they are TIMED_OUT."""
    run = seed_run_for_sample(recorded)
    recorded.store.record_outcome(run.instance_id, run.run_id,
                                  Outcome(item="oss_connectivity", status=ItemStatus.PASSED, message="ok"))
    status, view = api_body(call("get_last_result", load_event("api_get_last_result")))
    assert status == 200
    assert (view["status"], view["progress"]) == ("RUNNING", 25)
    recorded.clock.now = run.deadline + 0.1
    status, view = api_body(call("get_last_result", load_event("api_get_last_result")))
    assert view["status"] == "TIMED_OUT" and view["progress"] == 100
    assert [item["status"] for item in view["items"]] == ["PASSED", "TIMED_OUT", "TIMED_OUT", "TIMED_OUT"]


def test_last_result_of_an_unknown_instance_is_404(recorded):
    """An instance that was never registered has no last result: 404 naming it."""
    status, answer = api_body(call("get_last_result", load_event("api_get_last_result")))
    assert status == 404 and "no registered instance" in answer["error"]


def test_last_result_before_any_run_is_404_saying_so(recorded):
    """A registered instance without any run: 404 that says there is no precheck yet."""
    recorded.store.save_instance(_instance("erp-prod"))
    status, answer = api_body(call("get_last_result", load_event("api_get_last_result")))
    assert status == 404 and "no precheck yet" in answer["error"]


def test_last_result_refuses_other_methods(recorded):
    """get_last_result serves GET only."""
    event = load_event("api_get_last_result")
    event["httpMethod"] = "DELETE"
    status, _ = api_body(call("get_last_result", event))
    assert status == 405


# --- a check function -------------------------------------------------------------------------------------


def test_a_check_function_returns_an_outcome_for_its_item(recorded, monkeypatch):
    """A check function's handler answers with the Outcome JSON of its own item."""
    from tests.helpers import closed_port

    request = load_event("check_request")
    request["instance"]["server"] = f"127.0.0.1,{closed_port()}"
    monkeypatch.setenv("SQL_PASSWORD_ERP_PROD", "pw")
    outcome = Outcome.model_validate_json(call("check_recovery_mode", request))
    assert outcome.item == "recovery_mode" and outcome.status is ItemStatus.ERROR
    assert "connection refused" in outcome.message


def test_a_check_function_refuses_a_request_for_another_item(recorded):
    """A request meant for another item is refused, not run."""
    request = load_event("check_request")
    request["item"] = "database_status"
    answer = json.loads(call("check_recovery_mode", request))
    assert answer["status"] == 400 and "not 'database_status'" in answer["error"]


def test_a_timer_whose_page_cannot_be_invoked_is_raised_for_fc_to_retry(store):
    """If a page cannot be invoked the timer event fails (FC retries it); pages keep stable invocation ids."""
    from precheck.ports import PrecheckError

    class FlakyInvoker(RecordingInvoker):
        def invoke_async(self, function_name, payload, invocation_id):
            if json.loads(payload)["recheck"] == ["inst-2", "inst-3"] and not getattr(self, "healed", False):
                raise PrecheckError("invoke", "throttled")
            super().invoke_async(function_name, payload, invocation_id)

    invoker = FlakyInvoker()
    wiring.use(Deps(store=store, invoker=invoker, clock=Clock(), page_size=2))
    try:
        for n in range(5):
            store.save_instance(_instance(f"inst-{n}"))
        with pytest.raises(PrecheckError, match="1 of 3 recheck pages"):
            call("start_precheck", load_event("timer_recheck"))
        first_ids = {invocation_id for _, _, invocation_id in invoker.calls}
        invoker.healed = True
        call("start_precheck", load_event("timer_recheck"))
    finally:
        wiring.use(None)
    retry_ids = [invocation_id for _, _, invocation_id in invoker.calls[len(first_ids):]]
    assert len(first_ids) == 2 and set(retry_ids) >= first_ids and len(set(retry_ids)) == 3


def test_a_batch_of_registration_events_registers_each_once_and_reports_bad_ones(recorded):
    """EventBridge batching delivers a list: each event registers once, repeats are duplicates, bad ones named."""
    good = load_event("eventbridge_instance_registered")
    other = json.loads(json.dumps(good))
    other["id"], other["data"]["instance_id"] = "another-id", "crm-dr"
    bad = json.loads(json.dumps(good))
    bad["id"], bad["data"] = "bad-id", {"instance_id": "x"}
    answer = json.loads(call("start_precheck", [good, other, good, bad]))
    assert answer["summary"]["registered"] == 2 and answer["summary"]["duplicates"] == 1
    assert answer["summary"]["rejected"] == 1 and "event 3" in answer["summary"]["errors"][0]
    assert {recorded.store.get_instance(i).instance_id for i in ("crm-prod", "crm-dr")} == {"crm-prod", "crm-dr"}
    assert len(recorded.invoker.calls) == 8


def test_registration_data_sent_as_a_json_string_is_read(recorded):
    """A publisher that sends `data` as a JSON string still registers the instance."""
    event = load_event("eventbridge_instance_registered")
    event["data"] = json.dumps(event["data"])
    answer = json.loads(call("start_precheck", event))
    assert answer["started"] is True and answer["instance"]["instance_id"] == "crm-prod"
