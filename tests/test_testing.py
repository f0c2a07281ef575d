"""The test client itself (precheck.testing): it routes requests as API Gateway does, and the events it
builds are the ones the parsers read."""

from __future__ import annotations

import json

from precheck import commands, layout, wiring
from precheck.deps import Deps
from precheck.local import Functions
from precheck.models import CheckRequest, ItemStatus, Outcome
from precheck.testing import Client
from tests.fakes import RecordingInvoker, instance


def recording_functions(received: list) -> Functions:
    """Every routed function, answering 200 with the path it was sent."""

    def handler(event: bytes, context) -> str:
        received.append((context.function.name, json.loads(event)))
        return json.dumps({"statusCode": 200, "headers": {"X-Test": "yes"},
                           "body": json.dumps({"path": json.loads(event)["path"]})})

    return Functions.of({route.function: handler for route in layout.ROUTES})


def test_an_unknown_path_is_404_and_a_known_path_with_another_method_is_405():
    """Requests no route takes are answered 404 (unknown path) or 405 (known path), reaching no function."""
    received: list = []
    client = Client(functions=recording_functions(received))
    assert client.http.get("/nothing/here").status == 404
    assert client.http.request("DELETE", "/instances").status == 405
    assert client.http.post("/instances/erp-prod/prechecks/latest").status == 405
    assert received == []


def test_a_request_reaches_the_function_its_route_names_as_api_gateway_sends_it():
    """A routed request reaches the route's function with its path parameters; its answer comes back parsed."""
    received: list = []
    client = Client(functions=recording_functions(received))
    response = client.http.get("/instances/erp-prod/prechecks/latest")
    assert (response.status, response.json, response.headers["X-Test"]) == (
        200, {"path": "/instances/erp-prod/prechecks/latest"}, "yes")
    [(function, event)] = received
    assert function == layout.LAST_RESULT
    assert commands.parse_last_result(event) == "erp-prod"


def test_a_posted_body_is_the_body_the_start_parser_reads():
    """`http.post(path, json=...)` delivers a body parse_start reads back as the same instance."""
    received: list = []
    Client(functions=recording_functions(received)).http.post("/instances", json=instance().model_dump(mode="json"))
    command = commands.parse_start(received[0][1])
    assert isinstance(command, commands.RegisterInstance) and command.instance == instance()


def test_trigger_events_are_accepted_by_their_parsers():
    """The timer, EventBridge, check request and API events the client builds parse to the commands they mean."""
    events = Client().events
    timer = events.timer("2026-11-25T02:00:00Z")
    assert commands.parse_start(timer) == commands.RecheckFleet(tag="2026-11-25T02:00:00Z")
    registration = commands.parse_start(events.registration(instance(), event_id="evt-1"))
    assert isinstance(registration, commands.RegisterInstance)
    assert registration.instance == instance() and registration.event_key.endswith("\nevt-1")
    start = commands.parse_start(events.api("POST", "/instances/erp-prod/prechecks"))
    assert start == commands.StartPrecheck(instance_id="erp-prod")
    request = CheckRequest(run_id="r1", instance=instance(), item="recovery_mode", deadline=1.0)
    assert commands.parse_check_request(events.check_request(request), "recovery_mode") == request


def test_destination_events_carry_the_outcome_or_the_failure():
    """A destination event built from an outcome, or from an exception, parses to that outcome or failure."""
    events = Client().events
    request = CheckRequest(run_id="r1", instance=instance(), item="recovery_mode", deadline=1.0)
    outcome = Outcome(item="recovery_mode", status=ItemStatus.PASSED, message="fine")
    delivered = commands.parse_delivery(events.destination(request, outcome=outcome))
    assert (delivered.request, delivered.outcome, delivered.failure) == (request, outcome, None)
    failed = commands.parse_delivery(events.destination(request, error=RuntimeError("boom"), attempts=3))
    assert failed.outcome is None and failed.attempts == 3
    assert (failed.failure.error_type, failed.failure.error_message) == ("RuntimeError", "boom")


def test_the_client_installs_its_dependencies_only_while_open(store):
    """Inside `with Client(deps)` the handlers get `deps`; after it, they no longer do."""
    deps = Deps(store=store, invoker=RecordingInvoker())
    with Client(deps):
        assert wiring.deps() is deps
    try:
        assert wiring.deps() is not deps
    finally:
        wiring.use(None)
