"""What the handlers ask the service to do, read from the trigger envelopes.

An API Gateway request takes the route `layout.ROUTES` gives its method and path; a timer event becomes a
fleet recheck, an EventBridge event a registration, a destination event a delivered outcome. The service
sees only these commands, never an event's shape.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from . import layout
from .envelopes import (
    MAX_BODY_BYTES,
    ApiRequest,
    BadEvent,
    CloudEvent,
    DestinationEvent,
    TimerEvent,
    describe_validation,
    load_json,
    parse_model,
)
from .eventjson import parse_check_request  # noqa: F401 (the check functions' own, used by parse_delivery too)
from .models import INSTANCE_ID_PATTERN, MAX_OUTCOME_BYTES, CheckRequest, Instance, Model, Outcome, new_list

# --- start_precheck -------------------------------------------------------------------------------------


class StartPrecheck(Model):
    """Start a precheck of a registered instance (API Gateway)."""

    instance_id: str
    trigger: str = "api"
    via_api: bool = True


class RegisterInstance(Model):
    """Record an instance, then precheck it (API Gateway, or an EventBridge registration event)."""

    instance: Instance
    trigger: str = "registration"
    via_api: bool = False
    event_key: str | None = None


class RecheckFleet(Model):
    """The timer: recheck every registered instance."""

    tag: str


class RecheckPage(Model):
    """`start_precheck` invoked by the fleet recheck (our own payload): a page of instances to start, or
    (`paced`) one link of the paced recheck (precheck.fleet): its registry cursor and the runs in flight."""

    model_config = ConfigDict(extra="forbid")

    recheck: list[str] = Field(default_factory=new_list, max_length=1000)
    trigger: str = "timer"
    paced: bool = False
    tag: str = Field(default="", max_length=64)
    link: int = Field(default=0, ge=0)
    after: str | None = Field(default=None, max_length=64)
    done: bool = False
    in_flight: list[tuple[str, str]] = Field(default_factory=new_list, max_length=1000)
    since: float = Field(default=0.0, ge=0, description="when the recheck began: a run since then is its own")


class RegisterBatch(Model):
    """EventBridge with batching on delivers a list of events: each registers (once) and is prechecked."""

    registrations: list[RegisterInstance]
    rejected: list[str] = Field(default_factory=new_list)


StartCommand = StartPrecheck | RegisterInstance | RecheckFleet | RecheckPage | RegisterBatch

_PASSWORD_KEYS = {"password", "pwd", "sql_password", "passwd"}
_PASSWORDS_REFUSED = ("passwords are not accepted here: set the password as an environment variable of the check "
                      "functions and give its name as password_ref, e.g. \"password_ref\": \"env:SQL_PASSWORD\"")


def parse_instance(data: Any, what: str) -> Instance:
    if not isinstance(data, dict):
        raise BadEvent(f"{what} must be a JSON object describing the instance")
    if _PASSWORD_KEYS & {str(key).lower() for key in data}:
        raise BadEvent(_PASSWORDS_REFUSED)
    instance: Instance = parse_model(Instance, data, what)
    return instance


def _registration(data: dict) -> RegisterInstance:
    event = parse_model(CloudEvent, data, "EventBridge event")
    payload = event.data
    if isinstance(payload, str):  # a publisher whose content type is not JSON sends the data as a string
        payload = load_json(payload, "event data", MAX_BODY_BYTES)
    return RegisterInstance(instance=parse_instance(payload, "event data"), event_key=event.dedup_key)


def _api_route(request: ApiRequest) -> tuple[str, str | None]:
    """(action, instance id) of an API Gateway request, by the route table and the request's path."""
    found = layout.match(request.httpMethod, request.path)
    if found.route is None:
        if found.path_known:
            raise BadEvent(f"method {_shown(request.httpMethod, 10)} not allowed on this path", status=405)
        raise BadEvent(f"no route for {_shown(request.httpMethod, 10)} on this path; {_ROUTES}", status=404)
    instance_id = None
    if "instance_id" in found.parameters:
        instance_id = _instance_id(request, found.parameters["instance_id"])
    return found.route.action, instance_id


def _instance_id(request: ApiRequest, from_path: str) -> str:
    """The instance a request names: API Gateway's parameter map when it has `instance_id`, else the path as
    the route reads it (an API definition may name the parameter otherwise: instanceId, id). An id no
    instance can have is an unknown instance (404), not shown back."""
    given = request.pathParameters.get("instance_id")
    instance_id = given if isinstance(given, str) and given else from_path
    if not re.match(INSTANCE_ID_PATTERN, instance_id):
        raise BadEvent("no registered instance with that id (instance ids are 1 to 64 letters, digits, '_', '.' "
                       "or '-', starting with a letter or digit)", status=404)
    return instance_id


_ROUTES = "the routes are " + ", ".join(f"{route.method} {route.path}" for route in layout.ROUTES)


def _shown(text: str, limit: int) -> str:
    """A method as it may appear in a message: printable ASCII, cut at `limit` (a path is never shown: a
    mistyped one could hold anything)."""
    return "".join(char if " " < char < "\x7f" else "?" for char in text[:limit])


def _no_body(request: ApiRequest) -> None:
    """POST /instances/{id}/prechecks takes no body: an empty one, or {}, is all it accepts."""
    data = request.raw_body()
    if not data.strip():
        return
    value = load_json(data, "request body", MAX_BODY_BYTES)
    if isinstance(value, dict) and _PASSWORD_KEYS & {str(key).lower() for key in value}:
        raise BadEvent(_PASSWORDS_REFUSED)
    if value != {}:
        raise BadEvent("this request takes no body (or an empty JSON object): the instance is the one in the path; "
                       "to change it, register it again with POST /instances")


def parse_start(raw: bytes | str | dict) -> StartCommand:
    data = load_json(raw)
    if isinstance(data, list) and data and all(isinstance(item, dict) and "specversion" in item for item in data):
        registrations, rejected = [], []
        for number, item in enumerate(data[:1000]):
            try:
                registrations.append(_registration(item))
            except BadEvent as error:
                rejected.append(f"event {number}: {error.message}")
        return RegisterBatch(registrations=registrations, rejected=rejected)
    if not isinstance(data, dict):
        raise BadEvent("event must be a JSON object")
    if "httpMethod" in data:
        request = parse_model(ApiRequest, data, "API Gateway request")
        action, instance_id = _api_route(request)
        if action == "register":
            return RegisterInstance(instance=parse_instance(request.json_body(), "request body"), trigger="api",
                                    via_api=True)
        if action == "start" and instance_id:
            _no_body(request)
            return StartPrecheck(instance_id=instance_id)
        raise BadEvent(f"no route for {_shown(request.httpMethod, 10)} on this path; {_ROUTES}", status=404)
    if "triggerTime" in data:
        timer = parse_model(TimerEvent, data, "timer event")
        return RecheckFleet(tag=timer.triggerTime)
    if "specversion" in data:
        return _registration(data)
    if "recheck" in data:
        page: RecheckPage = parse_model(RecheckPage, data, "recheck page")
        return page
    raise BadEvent("unrecognised event: expected an API Gateway request, a timer event, an EventBridge event or a "
                   "recheck page")


# --- get_last_result --------------------------------------------------------------------------------------


def parse_last_result(raw: bytes | str | dict) -> str:
    """The instance whose last result is asked for."""
    request = parse_model(ApiRequest, load_json(raw), "API Gateway request")
    if request.httpMethod.upper() != "GET":
        raise BadEvent(f"method {_shown(request.httpMethod, 10)} not allowed; use GET", status=405)
    action, instance_id = _api_route(request)
    if action != "last_result" or instance_id is None:
        raise BadEvent(f"get_last_result answers GET /instances/{{instance_id}}/prechecks/latest only; {_ROUTES}",
                       status=404)
    return instance_id


# --- check functions and the collector ----------------------------------------------------------------------


class FunctionFailure(Model):
    """A check function that raised instead of answering, as FC reports it."""

    error_type: str
    error_message: str = ""


class CollectOutcome(Model):
    """A check function's answer, delivered by FC's destination: an outcome, a failure, or something
    that is neither (`unreadable` says why)."""

    request: CheckRequest
    request_id: str = ""
    attempts: int = 1
    finished_at: float | None = None
    outcome: Outcome | None = None
    failure: FunctionFailure | None = None
    unreadable: str | None = None


def parse_delivery(raw: bytes | str | dict) -> CollectOutcome:
    """Read a destination event: which run and item it is for, and what the check function answered.

    Classified by `responseContext` and by what `responsePayload` holds, never by `requestContext.condition`
    alone. FC's documentation of the destination event (https://help.aliyun.com/zh/functioncompute/user-guide/
    result-callback, "异步调用目标的事件内容"; English: https://www.alibabacloud.com/help/en/functioncompute/
    fc-2-0/result-callback) calls `condition` the invocation's error code, `functionError` the invocation's
    error, a `statusCode` other than 200 a system error, and shows one sample only: a failure whose
    `condition` is FunctionResourceExhausted with an empty `functionError` and empty payloads. What
    `condition` holds on success is not documented (empty, or e.g. "Success"), so:
    - `functionError` set, or a non-2xx `statusCode`: the function failed (the payload's errorType and
      errorMessage, when it has them, say how);
    - otherwise a payload that parses as an outcome is the outcome, whatever `condition` says;
    - otherwise a payload that is FC's error object, or any `condition` with no outcome, is a failure named
      by the payload's errorType or else the condition (FunctionResourceExhausted: the function never ran);
    - otherwise the payload is unreadable (an ERROR outcome saying why).
    tests/events/destination_*.json hold each shape."""
    event: DestinationEvent = parse_model(DestinationEvent, load_json(raw, "destination event"),
                                          "destination event")
    request = parse_check_request(event.requestPayload)
    delivery = CollectOutcome(request=request, request_id=event.requestContext.requestId,
                              attempts=event.requestContext.approximateInvokeCount,
                              finished_at=event.epoch_seconds())
    if event.failed:
        delivery.failure = _failure(event)
        return delivery
    payload = event.responsePayload or ""
    size = len(payload.encode("utf-8", "replace"))
    if size > MAX_OUTCOME_BYTES:  # the runner keeps outcomes within this; the store refuses more
        delivery.unreadable = f"the outcome is {size} bytes, more than the {MAX_OUTCOME_BYTES} an outcome may have"
        return delivery
    try:
        value = load_json(payload, "outcome", MAX_OUTCOME_BYTES) if payload.strip() else None
    except BadEvent as error:
        value, delivery.unreadable = None, error.message
    if isinstance(value, dict) and "errorType" in value and "status" not in value:
        delivery.failure = _failure(event)  # FC's error object on a path that did not flag it
        return delivery
    if value is not None and delivery.unreadable is None:
        try:
            delivery.outcome = Outcome.model_validate(value)
            return delivery
        except ValidationError as error:
            delivery.unreadable = describe_validation(error)
    if event.requestContext.condition.strip():  # no outcome, and FC names an error: the function failed
        delivery.failure = _failure(event)
        delivery.unreadable = None
        return delivery
    if delivery.unreadable is None:
        delivery.unreadable = "the check function's answer is empty"
    return delivery


def _failure(event: DestinationEvent) -> FunctionFailure:
    """How the function failed: FC's error object in the payload when there is one, else the text itself
    (cut), named by functionError, condition or UnhandledInvocationError."""
    error_type = (event.responseContext.functionError or event.requestContext.condition or "").strip()
    error_type = error_type or "UnhandledInvocationError"
    error_message = ""
    try:
        payload = load_json(event.responsePayload or "{}", "failure payload", MAX_BODY_BYTES)
        if isinstance(payload, dict):
            error_type = str(payload.get("errorType") or error_type)
            error_message = str(payload.get("errorMessage") or "")
    except BadEvent:  # not JSON (or JSON we refuse): the text itself, cut, is the message
        error_message = (event.responsePayload or "")[:300]
    return FunctionFailure(error_type=error_type[:100], error_message=error_message[:300])
