"""Each handler in functions/ driven through the test client: requests as API Gateway routes them, and the
timer, EventBridge and destination events in FC's shapes (built by the client, or the samples in
tests/events/*.json where the exact shape FC delivers is the point).

Fan-out is recorded, not executed, here: the sample instances point at private addresses that tests never
contact. The end-to-end flow, with the check functions really running, is in test_flow.py.
"""

from __future__ import annotations

import json

import pytest

from precheck.adapters.inprocess_invoker import InProcessInvoker
from precheck.checks import CheckItem, all_items, recovery_mode
from precheck.deps import Deps
from precheck.local import Functions
from precheck.models import CheckRequest, ItemStatus, Outcome, Run
from precheck.ports import PrecheckError
from precheck.service import Collected, StartResult
from precheck.testing import Client
from tests.fakes import Clock, FailingInvoker, RecordingInvoker, instance
from tests.helpers import load_event

ITEMS = len(all_items())  # a start invokes one check function per item

#: the instance of the sample registration request (erp-prod)
ERP_PROD = json.loads(load_event("api_register_instance")["body"])
#: the instance of the sample EventBridge registration event (crm-prod)
CRM_PROD = load_event("eventbridge_instance_registered")["data"]
LATEST = "/instances/erp-prod/prechecks/latest"


@pytest.fixture
def client(store):
    """The real handlers on a SQLite store, with a recording invoker and a clock that stands still."""
    with Client(Deps(store=store, invoker=RecordingInvoker(), clock=Clock(), grace_s=2.0, page_size=2)) as client:
        yield client


def register(client: Client, instance_id: str = "erp-prod") -> dict:
    response = client.http.post("/instances", json={**ERP_PROD, "instance_id": instance_id})
    assert response.status == 201, response.json
    return response.json


# --- start_precheck ---------------------------------------------------------------------------------------


def test_registering_through_the_api_records_the_instance_and_fans_out_one_call_per_item(client):
    """POST /instances stores the instance and invokes each check function once, asynchronously."""
    answer = register(client)
    assert answer["started"] is True
    assert answer["run"]["status"] == "RUNNING" and answer["run"]["progress"] == 0
    assert [item["status"] for item in answer["run"]["items"]] == ["PENDING"] * ITEMS
    assert client.deps.store.get_instance("erp-prod").bucket == "erp-sql-backups"
    calls = client.deps.invoker.calls
    functions = [name for name, _, _ in calls]
    assert functions == [item.function_name for item in all_items()]
    assert functions[:4] == ["check_oss_connectivity", "check_control_network", "check_recovery_mode",
                             "check_database_status"]
    ids = {invocation_id for _, _, invocation_id in calls}
    assert len(ids) == ITEMS
    for _, payload, _ in calls:
        request = CheckRequest.model_validate(payload)
        assert request.run_id == answer["run"]["run_id"]
        assert request.deadline == answer["run"]["deadline"]


def test_a_second_start_while_running_returns_the_running_run(client):
    """Starting again while the last run is RUNNING returns that run (200) and invokes nothing."""
    first = register(client)
    response = client.http.post("/instances/erp-prod/prechecks")
    assert response.status == 200
    assert response.json["started"] is False
    assert response.json["run"]["run_id"] == first["run"]["run_id"]
    assert len(client.deps.invoker.calls) == ITEMS


def test_a_start_after_the_deadline_starts_a_new_run(client):
    """Once the last run is over (its deadline passed), a start creates a new run."""
    first = register(client)
    client.deps.clock.now += 60
    response = client.http.post("/instances/erp-prod/prechecks")
    assert response.status == 202
    assert response.json["run"]["run_id"] != first["run"]["run_id"]
    assert len(client.deps.invoker.calls) == 2 * ITEMS


def test_starting_an_unknown_instance_is_404(client):
    """A start for an instance that was never registered answers 404 naming it."""
    response = client.http.post("/instances/erp-prod/prechecks")
    assert response.status == 404
    assert "erp-prod" in response.json["error"]


def test_skipped_items_are_recorded_without_invocation(client):
    """Items in skip_items are SKIPPED at once and never invoked."""
    response = client.http.post("/instances", json={**ERP_PROD, "skip_items": ["oss_connectivity"]})
    assert response.status == 201
    assert response.json["run"]["items"][0]["status"] == "SKIPPED"
    assert "check_oss_connectivity" not in [name for name, _, _ in client.deps.invoker.calls]


def test_an_item_that_cannot_be_invoked_is_recorded_as_error(store):
    """A check function that cannot be invoked is an ERROR item with the reason, not left pending."""
    invoker = FailingInvoker(lambda function, payload: function == "check_recovery_mode", "FC answered 500 three times")
    with Client(Deps(store=store, invoker=invoker, clock=Clock())) as client:
        answer = client.http.post("/instances", json=ERP_PROD).json
    items = {item["item"]: item for item in answer["run"]["items"]}
    assert items["recovery_mode"]["status"] == "ERROR"
    assert "FC answered 500 three times" in items["recovery_mode"]["message"]
    assert items["database_status"]["status"] == "PENDING"


def test_a_local_start_whose_check_function_does_not_exist_records_error_for_that_item(store):
    """With the in-process invoker, an item whose function does not exist is ERROR naming it; the start
    still answers and the other items are invoked."""
    ran = []
    functions = Functions.of({"check_recovery_mode": lambda event, context: ran.append(event) or "{}"})
    missing = CheckItem("no_such_check", "NO_SUCH_CHECK", "a check without a function", 99, recovery_mode.run)
    deps = Deps(store=store, invoker=InProcessInvoker(functions, lambda name: None), clock=Clock(),
                items=lambda: [recovery_mode.ITEM, missing])
    with Client(deps) as client:
        response = client.http.post("/instances", json=ERP_PROD)
    assert response.status == 201
    items = {item["item"]: item for item in response.json["run"]["items"]}
    assert items["no_such_check"]["status"] == "ERROR"
    assert "could not start the check function check_no_such_check" in items["no_such_check"]["message"]
    assert "no function named 'check_no_such_check'" in items["no_such_check"]["message"]
    assert items["recovery_mode"]["status"] == "PENDING" and len(ran) == 1
    stored = store.latest_run("erp-prod").outcomes
    assert list(stored) == ["no_such_check"] and stored["no_such_check"].details["reason"] == "invoke_failed"


# --- bad input --------------------------------------------------------------------------------------------


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
def test_bad_registration_requests_get_a_4xx_naming_the_problem(client, body, status, words):
    """Bad JSON, missing fields, wrong types and oversized bodies are answered 4xx with a clear message."""
    response = client.http.post("/instances", body=body)
    assert response.status == status
    assert words in response.json["error"]
    assert client.deps.invoker.calls == []


def test_a_password_in_a_registration_is_refused_and_never_echoed(client, caplog):
    """A request that carries a password is refused, and the password is in neither answer nor logs."""
    response = client.http.post("/instances", json={"instance_id": "x", "region": "cn-hangzhou", "server": "h",
                                                    "user": "u", "password": "Hunter2-Secret"})
    assert response.status == 400
    assert "password_ref" in response.json["error"]
    assert "Hunter2-Secret" not in json.dumps(response.json) + json.dumps(response.headers)
    assert "Hunter2-Secret" not in caplog.text


@pytest.mark.parametrize("raw", [b"\xff\xfe not json", b"[]", b"{}", b'{"httpMethod": 5}', b"null"])
def test_malformed_events_get_an_error_answer_not_a_traceback(client, raw):
    """Events that are no event at all get an error answer; nothing is raised to the runtime."""
    answer = client.invoke("start_precheck", raw)
    assert "error" in answer or answer.get("statusCode", 0) >= 400


def test_an_unknown_route_is_404(client):
    """A request for a route start_precheck does not serve is 404 from the handler itself."""
    answer = client.invoke("start_precheck", client.events.api("POST", "/other"))
    assert answer["statusCode"] == 404


# --- timer and EventBridge --------------------------------------------------------------------------------


def test_the_timer_invokes_the_paced_recheck_whose_link_starts_every_instance(store):
    """The timer invokes start_precheck once, with the recheck's first link; that link starts every registered
    instance (all fit in its window of FC's concurrency) and ends once their runs are past their deadline."""
    clock, invoker = Clock(), RecordingInvoker()

    def sleep(seconds: float) -> None:
        clock.now += seconds

    with Client(Deps(store=store, invoker=invoker, clock=clock, sleep=sleep)) as client:
        for n in range(5):
            store.save_instance(instance(instance_id=f"inst-{n}"))
        answer = client.invoke("start_precheck", client.events.timer())
        assert answer["summary"] == {"paced": True, "concurrency": 100}
        [(name, link, _)] = invoker.calls
        assert name == "start_precheck" and (link["paced"], link["link"], link["in_flight"]) == (True, 0, [])
        answer = client.invoke("start_precheck", link)
    assert answer["summary"] == {"started": 5}
    checks = invoker.calls[1:]
    assert len(checks) == 5 * ITEMS and {payload["instance"]["instance_id"] for _, payload, _ in checks} == {
        f"inst-{n}" for n in range(5)}


def test_a_recheck_page_starts_each_of_its_instances(client):
    """A page payload starts a precheck of each instance and counts unknown ones."""
    for n in range(2):
        client.deps.store.save_instance(instance(instance_id=f"inst-{n}"))
    answer = client.invoke("start_precheck", {"recheck": ["inst-0", "inst-1", "gone"], "trigger": "timer"})
    assert answer["summary"] == {"started": 2, "unknown": 1}
    assert len(client.deps.invoker.calls) == 2 * ITEMS


def test_a_registration_event_delivered_twice_is_handled_once(client):
    """EventBridge may repeat an event: the same source and id registers and starts once."""
    event = client.events.registration(CRM_PROD, event_id="evt-1")
    first = client.invoke("start_precheck", event)
    second = client.invoke("start_precheck", event)
    assert first["started"] is True and first["instance"]["instance_id"] == "crm-prod"
    assert second == {"instance": first["instance"], "duplicate": True}
    assert len(client.deps.invoker.calls) == ITEMS


def test_a_registration_event_with_bad_data_is_rejected(client):
    """An EventBridge event whose data is no instance is answered with an error naming the field."""
    answer = client.invoke("start_precheck", client.events.registration({k: v for k, v in CRM_PROD.items()
                                                                          if k != "user"}))
    assert answer["status"] == 400 and "user" in answer["error"]


def test_a_batch_of_registration_events_registers_each_once_and_reports_bad_ones(client):
    """EventBridge batching delivers a list: each event registers once, repeats are duplicates, bad ones named."""
    good = load_event("eventbridge_instance_registered")
    other = json.loads(json.dumps(good))
    other["id"], other["data"]["instance_id"] = "another-id", "crm-dr"
    bad = json.loads(json.dumps(good))
    bad["id"], bad["data"] = "bad-id", {"instance_id": "x"}
    answer = client.invoke("start_precheck", json.dumps([good, other, good, bad]))
    assert answer["summary"]["registered"] == 2 and answer["summary"]["duplicates"] == 1
    assert answer["summary"]["rejected"] == 1 and "event 3" in answer["summary"]["errors"][0]
    store = client.deps.store
    assert {store.get_instance(i).instance_id for i in ("crm-prod", "crm-dr")} == {"crm-prod", "crm-dr"}
    assert len(client.deps.invoker.calls) == 2 * ITEMS


def test_registration_data_sent_as_a_json_string_is_read(client):
    """A publisher that sends `data` as a JSON string still registers the instance."""
    event = load_event("eventbridge_instance_registered")
    event["data"] = json.dumps(event["data"])
    answer = client.invoke("start_precheck", event)
    assert answer["started"] is True and answer["instance"]["instance_id"] == "crm-prod"


def test_a_timer_whose_first_link_cannot_be_invoked_is_raised_for_fc_to_retry(store):
    """If the recheck's first link cannot be invoked the timer event fails (FC retries it), with the same
    invocation id each time, so a retry after a lost answer runs the link once."""
    invoker = FailingInvoker(lambda function, payload: payload.get("paced") is True, "throttled")
    with Client(Deps(store=store, invoker=invoker, clock=Clock())) as client:
        timer = client.events.timer()
        with pytest.raises(PrecheckError, match="throttled"):
            client.invoke("start_precheck", timer)
        assert invoker.calls == []
        invoker.healed = True
        client.invoke("start_precheck", timer)
        client.invoke("start_precheck", timer)
    assert len(invoker.calls) == 2 and len({invocation_id for _, _, invocation_id in invoker.calls}) == 1


# --- collect_outcome --------------------------------------------------------------------------------------


def seed_run_for_sample(client: Client) -> Run:
    """The run the sample check request and destination events belong to, stored with its instance."""
    request = CheckRequest.model_validate(load_event("check_request"))
    # the run's deadline is the one its requests carry (the collector takes it from the request): the clock
    # is set 12 s before it
    now = client.deps.clock.now = request.deadline - 12
    run = Run(run_id=request.run_id, instance_id=request.instance_id,
              items=["oss_connectivity", "control_network", "recovery_mode", "database_status"],
              created_at=now, deadline=request.deadline)
    client.deps.store.save_instance(request.instance)
    client.deps.store.create_run(run)
    return run


def test_a_success_destination_stores_the_outcome_once(client):
    """The same destination event collected twice stores one outcome."""
    run = seed_run_for_sample(client)
    first = client.invoke("collect_outcome", load_event("destination_success"))
    second = client.invoke("collect_outcome", load_event("destination_success"))
    assert first == {"stored": True, "reason": "stored"}
    assert second["stored"] is False and "duplicate" in second["reason"]
    stored = client.deps.store.get_run(run.instance_id, run.run_id).outcomes
    assert list(stored) == ["recovery_mode"]
    assert stored["recovery_mode"].status is ItemStatus.WARNING
    assert stored["recovery_mode"].affected[0].name == "reporting"


def test_a_failure_destination_becomes_an_error_outcome_with_the_reason(client):
    """A crashed check (onFailure) is stored as ERROR with FC's errorType and errorMessage."""
    run = seed_run_for_sample(client)
    client.invoke("collect_outcome", load_event("destination_failure"))
    outcome = client.deps.store.get_run(run.instance_id, run.run_id).outcomes["recovery_mode"]
    assert outcome.status is ItemStatus.ERROR
    assert "FunctionTimeoutError" in outcome.message and "Process exited unexpectedly" in outcome.message
    assert outcome.details["attempts"] == 4


def test_an_outcome_collected_after_the_deadline_is_timed_out_and_cannot_flip_the_run(client):
    """A reader past the deadline stores the TIMED_OUT it shows; the late outcome then changes nothing."""
    run = seed_run_for_sample(client)
    client.deps.clock.now = run.deadline + 5
    before = client.http.get(LATEST).json
    assert client.deps.store.get_run(run.instance_id, run.run_id).outcomes["recovery_mode"].status \
        is ItemStatus.TIMED_OUT
    answer = client.invoke("collect_outcome", load_event("destination_success"))
    after = client.http.get(LATEST).json
    assert answer["stored"] is False
    assert before == after and after["status"] == "TIMED_OUT"


def test_an_outcome_collected_after_the_deadline_unseen_is_stored_timed_out_with_its_lateness(client):
    """A late outcome nobody has read the run for is stored as TIMED_OUT, saying what arrived and how late."""
    run = seed_run_for_sample(client)
    client.deps.clock.now = run.deadline + 5
    assert client.invoke("collect_outcome", load_event("destination_success"))["stored"] is True
    items = {item["item"]: item for item in client.http.get(LATEST).json["items"]}
    assert items["recovery_mode"]["status"] == "TIMED_OUT"
    assert items["recovery_mode"]["details"]["late_status"] == "WARNING"


def test_an_outcome_for_an_unknown_run_is_not_stored(client):
    """An outcome whose run does not exist is reported, not stored, and nothing is raised."""
    answer = client.invoke("collect_outcome", load_event("destination_success"))
    assert answer["stored"] is False and "no run" in answer["reason"]


@pytest.mark.parametrize("raw", [b"{}", b"garbage",
                                 json.dumps({"requestContext": {}, "requestPayload": "{}"}).encode()])
def test_a_malformed_destination_event_is_answered_not_raised(client, raw):
    """A destination event that cannot be read gets an error answer, never a traceback."""
    answer = client.invoke("collect_outcome", raw)
    assert answer["status"] == 400 and answer["error"]


def test_an_answer_that_is_no_outcome_is_stored_as_error(client):
    """A check function that answered with something other than an outcome gives an ERROR item."""
    run = seed_run_for_sample(client)
    request = CheckRequest.model_validate(load_event("check_request"))
    client.invoke("collect_outcome", client.events.destination(request, response='{"error": "bad"}'))
    outcome = client.deps.store.get_run(run.instance_id, run.run_id).outcomes["recovery_mode"]
    assert outcome.status is ItemStatus.ERROR and "no readable outcome" in outcome.message


# --- get_last_result -------------------------------------------------------------------------------------


def test_last_result_shows_the_latest_run_with_pending_items_then_timed_out(client):
    """Before the deadline missing items are PENDING (run RUNNING); after it they are TIMED_OUT."""
    run = seed_run_for_sample(client)
    client.deps.store.record_outcome(run.instance_id, run.run_id,
                                     Outcome(item="oss_connectivity", status=ItemStatus.PASSED, message="ok"))
    response = client.http.get(LATEST)
    assert response.status == 200
    assert (response.json["status"], response.json["progress"]) == ("RUNNING", 25)
    client.deps.clock.now = run.deadline + 0.1
    view = client.http.get(LATEST).json
    assert view["status"] == "TIMED_OUT" and view["progress"] == 100
    assert [item["status"] for item in view["items"]] == ["PASSED", "TIMED_OUT", "TIMED_OUT", "TIMED_OUT"]


def test_last_result_of_an_unknown_instance_is_404(client):
    """An instance that was never registered has no last result: 404 naming it."""
    response = client.http.get(LATEST)
    assert response.status == 404 and "no registered instance" in response.json["error"]


def test_last_result_before_any_run_is_404_saying_so(client):
    """A registered instance without any run: 404 that says there is no precheck yet."""
    client.deps.store.save_instance(instance(instance_id="erp-prod"))
    response = client.http.get(LATEST)
    assert response.status == 404 and "no precheck yet" in response.json["error"]


def test_last_result_refuses_other_methods(client):
    """get_last_result itself serves GET only."""
    answer = client.invoke("get_last_result", client.events.api("DELETE", LATEST))
    assert answer["statusCode"] == 405


# --- a check function -------------------------------------------------------------------------------------


def test_a_check_function_returns_an_outcome_for_its_item(client, monkeypatch):
    """A check function's handler answers with the Outcome JSON of its own item."""
    from tests.helpers import closed_port

    request = load_event("check_request")
    request["instance"]["server"] = f"127.0.0.1,{closed_port()}"
    monkeypatch.setenv("SQL_PASSWORD_ERP_PROD", "pw")
    outcome = Outcome.model_validate(client.invoke("check_recovery_mode", request))
    assert outcome.item == "recovery_mode" and outcome.status is ItemStatus.ERROR
    assert "connection refused" in outcome.message


def test_a_check_function_refuses_a_request_for_another_item(client):
    """A request meant for another item is refused, not run."""
    request = load_event("check_request")
    request["item"] = "database_status"
    answer = client.invoke("check_recovery_mode", request)
    assert answer["status"] == 400 and "not 'database_status'" in answer["error"]


def test_the_service_results_are_plain_values_each_with_its_own_summary():
    """StartResult and Collected behave as the plain dataclasses they were (precheck.portvalues): compared by value,
    unhashable, the same repr; a StartResult made without a summary has its own dict (the default factory)."""
    first, second = StartResult(), StartResult()
    first.summary["registered"] = 1
    assert second.summary == {} and second == StartResult(None, None, False, {}, None) and first != second
    assert repr(second) == "StartResult(started=None, instance=None, duplicate=False, summary={}, updated=None)"
    assert Collected(True, "stored") == Collected(stored=True, reason="stored") != Collected(False, "stored")
    with pytest.raises(TypeError):
        hash(Collected(True, "stored"))
