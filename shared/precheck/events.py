"""Trigger envelopes, each a model, parsed apart from their payloads; and the answers handlers return.

Envelopes: API Gateway (FC backend) request/response, timer, EventBridge CloudEvent, FC async destination,
and our own internal payloads (check request, recheck page). Every parse failure becomes `BadEvent`
with a message that names the problem and never echoes a value (a value could be a password).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .models import CheckRequest, ItemStatus, Model, Outcome

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 6 * 1024 * 1024  # FC's own limit for a synchronous event; anything larger is not ours


class BadEvent(Exception):
    """A client error: the event or request cannot be used. `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def describe_validation(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(part) for part in detail["loc"]) or "body"
        parts.append(f"{where}: {detail['msg']}")
    more = len(error.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_model(model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadEvent(f"invalid {what}: {describe_validation(error)}") from None


def load_json(raw: Union[bytes, str, dict], what: str = "event", limit: int = MAX_EVENT_BYTES) -> Any:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, (bytes, bytearray)) and len(raw) > limit or isinstance(raw, str) and len(raw) > limit:
        raise BadEvent(f"{what} is larger than {limit} bytes", status=413)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadEvent(f"{what} is not valid JSON: {error.__class__.__name__} at {getattr(error, 'pos', '?')}") from None


# --- API Gateway ----------------------------------------------------------------------------------------


class ApiRequest(Model):
    """API Gateway's request to an FC event function."""

    model_config = ConfigDict(extra="ignore")

    path: str
    httpMethod: str
    headers: dict[str, Any] = Field(default_factory=dict)
    queryParameters: dict[str, Any] = Field(default_factory=dict)
    pathParameters: dict[str, Any] = Field(default_factory=dict)
    body: Optional[str] = None
    isBase64Encoded: bool = False

    @field_validator("headers", "queryParameters", "pathParameters", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def raw_body(self) -> bytes:
        if not self.body:
            return b""
        if self.isBase64Encoded:
            try:
                data = base64.b64decode(self.body, validate=True)
            except ValueError:
                raise BadEvent("body is flagged base64 but is not valid base64") from None
        else:
            data = self.body.encode("utf-8")
        if len(data) > MAX_BODY_BYTES:
            raise BadEvent(f"request body is larger than {MAX_BODY_BYTES} bytes", status=413)
        return data

    def json_body(self) -> dict:
        data = self.raw_body()
        if not data:
            raise BadEvent("request body is empty; a JSON object is required")
        value = load_json(data, "request body", MAX_BODY_BYTES)
        if not isinstance(value, dict):
            raise BadEvent("request body must be a JSON object")
        return value

    def path_parameter(self, name: str) -> str:
        value = self.pathParameters.get(name)
        if not isinstance(value, str) or not value:
            raise BadEvent(f"path parameter {name} is missing")
        return value


def api_response(status: int, body: Any, headers: Optional[dict] = None) -> str:
    """API Gateway's FC-backend answer, serialised as the JSON string the function returns."""
    if isinstance(body, BaseModel):
        text = body.model_dump_json()
    else:
        text = json.dumps(body, default=_json_default)
    return json.dumps({
        "isBase64Encoded": False,
        "statusCode": status,
        "headers": {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        "body": text,
    })


def api_error(error: BadEvent) -> str:
    return api_response(error.status, {"error": error.message})


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


# --- Timer, EventBridge, internal payloads ------------------------------------------------------------


class TimerEvent(Model):
    triggerTime: str
    triggerName: str = ""
    payload: Optional[str] = None


class CloudEvent(Model):
    """An EventBridge event (CloudEvents 1.0 with Alibaba Cloud's extensions)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=256)
    specversion: str
    type: str
    subject: Optional[str] = None
    time: Optional[str] = None
    data: Any = None
    aliyunaccountid: Optional[str] = None
    aliyunregionid: Optional[str] = None

    @property
    def dedup_key(self) -> str:
        return f"cloudevent\n{self.source}\n{self.id}"


class RecheckPage(Model):
    """Our own payload: `start_precheck` invoked on a page of registered instances by the timer fan-out."""

    model_config = ConfigDict(extra="forbid")

    recheck: list[str] = Field(max_length=1000)
    trigger: str = "timer"


# --- FC async destination -----------------------------------------------------------------------------


class DestinationRequestContext(Model):
    model_config = ConfigDict(extra="ignore")

    requestId: str = ""
    functionArn: str = ""
    condition: str = ""
    approximateInvokeCount: int = 1


class DestinationResponseContext(Model):
    model_config = ConfigDict(extra="ignore")

    statusCode: int = 200
    functionError: str = ""


class DestinationEvent(Model):
    """What FC delivers to an onSuccess/onFailure destination after an async invocation."""

    model_config = ConfigDict(extra="ignore")

    timestamp: Union[int, float, str, None] = None
    requestContext: DestinationRequestContext
    requestPayload: str
    responseContext: DestinationResponseContext = Field(default_factory=DestinationResponseContext)
    responsePayload: Optional[str] = None

    @property
    def failed(self) -> bool:
        return bool(self.requestContext.condition or self.responseContext.functionError)

    def epoch_seconds(self) -> Optional[float]:
        stamp = self.timestamp
        if isinstance(stamp, (int, float)):
            return stamp / 1000 if stamp > 1e11 else float(stamp)
        if isinstance(stamp, str) and stamp:
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return None


class Delivery(Model):
    """A destination event read as a check's outcome for one run and item."""

    request: CheckRequest
    outcome: Outcome


def parse_check_request(raw: Union[bytes, str, dict], item: Optional[str] = None) -> CheckRequest:
    request = parse_model(CheckRequest, load_json(raw, "check request"), "check request")
    if item is not None and request.item != item:
        raise BadEvent(f"this function checks {item!r}, not {request.item[:64]!r}")
    return request


def parse_delivery(raw: Union[bytes, str, dict]) -> Delivery:
    """Read a destination event. A crash, or an answer that is no outcome, becomes an ERROR outcome."""
    event = parse_model(DestinationEvent, load_json(raw, "destination event"), "destination event")
    request = parse_check_request(event.requestPayload)
    return Delivery(request=request, outcome=_outcome_of(event, request))


def _outcome_of(event: DestinationEvent, request: CheckRequest) -> Outcome:
    finished = event.epoch_seconds()
    base = {"item": request.item, "finished_at": finished} if finished else {"item": request.item}
    if event.failed:
        error_type, error_message = "UnhandledInvocationError", ""
        try:
            payload = json.loads(event.responsePayload or "{}")
            if isinstance(payload, dict):
                error_type = str(payload.get("errorType") or event.requestContext.condition or error_type)
                error_message = str(payload.get("errorMessage") or "")
        except ValueError:
            error_message = (event.responsePayload or "")[:300]
        reason = f"{error_type}: {error_message[:300]}" if error_message else error_type
        return Outcome(**base, status=ItemStatus.ERROR, message=f"the check function failed: {reason}",
                       advice="See the check function's logs for this request id; the item is retried on the next "
                              "precheck.",
                       details={"reason": "function_error", "error_type": error_type,
                                "request_id": event.requestContext.requestId,
                                "attempts": event.requestContext.approximateInvokeCount})
    try:
        outcome = Outcome.model_validate_json(event.responsePayload or "")
    except ValidationError as error:
        return Outcome(**base, status=ItemStatus.ERROR,
                       message=f"the check function returned no readable outcome ({describe_validation(error)})",
                       details={"reason": "bad_outcome", "request_id": event.requestContext.requestId})
    if outcome.item != request.item:
        return Outcome(**base, status=ItemStatus.ERROR,
                       message=f"the check function answered for item {outcome.item!r}, not {request.item!r}",
                       details={"reason": "bad_outcome"})
    if outcome.status is ItemStatus.PENDING:
        return outcome.model_copy(update={"status": ItemStatus.ERROR, "message": "the check returned no verdict"})
    return outcome


def destination_event(*, function_arn: str, request_id: str, request_payload: bytes, now_ms: int,
                      response: Optional[str] = None, error: Optional[BaseException] = None,
                      attempts: int = 1) -> bytes:
    """The event FC delivers to a destination after an async invocation: onSuccess when `error` is None,
    onFailure otherwise (an unhandled exception, as FC reports it)."""
    if error is None:
        request_context = {"requestId": request_id, "functionArn": function_arn, "condition": "",
                           "approximateInvokeCount": attempts}
        response_context = {"statusCode": 200, "functionError": ""}
        payload = response
    else:
        request_context = {"requestId": request_id, "functionArn": function_arn,
                           "condition": "UnhandledInvocationError", "approximateInvokeCount": attempts}
        response_context = {"statusCode": 200, "functionError": "UnhandledInvocationError"}
        payload = json.dumps({"errorMessage": str(error)[:1000], "errorType": type(error).__name__,
                              "stackTrace": []})
    return json.dumps({
        "timestamp": now_ms,
        "requestContext": request_context,
        "requestPayload": request_payload.decode("utf-8", "replace"),
        "responseContext": response_context,
        "responsePayload": payload,
    }).encode("utf-8")


# --- what start_precheck is asked to do ---------------------------------------------------------------


class StartPrecheck(Model):
    """Start a precheck of a registered instance (API Gateway)."""

    instance_id: str
    trigger: str = "api"
    via_api: bool = True


class RegisterInstance(Model):
    """Record an instance, then precheck it (API Gateway, or an EventBridge registration event)."""

    instance: Any  # models.Instance; Any keeps this module free of an import cycle in annotations
    trigger: str = "registration"
    via_api: bool = False
    event_key: Optional[str] = None


class RecheckFleet(Model):
    """The timer: recheck every registered instance."""

    tag: str


class RegisterBatch(Model):
    """EventBridge with batching on delivers a list of events: each registers (once) and is prechecked."""

    registrations: list[RegisterInstance]
    rejected: list[str] = Field(default_factory=list)


StartCommand = Union[StartPrecheck, RegisterInstance, RecheckFleet, RecheckPage, RegisterBatch]

_PASSWORD_KEYS = {"password", "pwd", "sql_password", "passwd"}


def parse_instance(data: Any, what: str):
    from .models import Instance

    if not isinstance(data, dict):
        raise BadEvent(f"{what} must be a JSON object describing the instance")
    if _PASSWORD_KEYS & {str(key).lower() for key in data}:
        raise BadEvent("passwords are not accepted here: set the password as an environment variable of the check "
                       "functions and give its name as password_ref, e.g. \"password_ref\": \"env:SQL_PASSWORD\"")
    return parse_model(Instance, data, what)


def _registration(data: dict) -> RegisterInstance:
    event = parse_model(CloudEvent, data, "EventBridge event")
    payload = event.data
    if isinstance(payload, str):  # a publisher whose content type is not JSON sends the data as a string
        payload = load_json(payload, "event data", MAX_BODY_BYTES)
    return RegisterInstance(instance=parse_instance(payload, "event data"), event_key=event.dedup_key)


def parse_start(raw: Union[bytes, str, dict]) -> StartCommand:
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
        method = request.httpMethod.upper()
        if method == "POST" and request.path.rstrip("/") == "/instances":
            return RegisterInstance(instance=parse_instance(request.json_body(), "request body"), trigger="api",
                                    via_api=True)
        if method == "POST" and request.pathParameters.get("instance_id") is not None:
            request.raw_body()  # a body is optional here, but an oversized one is still refused
            return StartPrecheck(instance_id=request.path_parameter("instance_id"))
        raise BadEvent(f"no route for {method} {request.path[:200]}", status=404)
    if "triggerTime" in data:
        timer = parse_model(TimerEvent, data, "timer event")
        return RecheckFleet(tag=timer.triggerTime)
    if "specversion" in data:
        return _registration(data)
    if "recheck" in data:
        return parse_model(RecheckPage, data, "recheck page")
    raise BadEvent("unrecognised event: expected an API Gateway request, a timer event, an EventBridge event or a "
                   "recheck page")


def parse_last_result(raw: Union[bytes, str, dict]) -> str:
    request = parse_model(ApiRequest, load_json(raw), "API Gateway request")
    if request.httpMethod.upper() != "GET":
        raise BadEvent(f"method {request.httpMethod[:10]} not allowed; use GET", status=405)
    return request.path_parameter("instance_id")


def is_api_event(raw: Union[bytes, str, dict]) -> bool:
    try:
        data = load_json(raw)
    except BadEvent:
        return isinstance(raw, (bytes, str)) and (b'"httpMethod"' in raw if isinstance(raw, bytes)
                                                   else '"httpMethod"' in raw)
    return isinstance(data, dict) and "httpMethod" in data


def plain_answer(body: Any) -> str:
    """The answer of a function not called through API Gateway (timer, EventBridge, async)."""
    return json.dumps(body, default=_json_default)


def start_answer(command: StartCommand, result: Any) -> str:
    """Put what start_precheck did into the answer its caller expects."""
    body: dict[str, Any] = {}
    if result.instance is not None:
        body["instance"] = result.instance.model_dump(mode="json")
    if result.duplicate:
        body["duplicate"] = True
    if result.started is not None:
        body["run"] = result.started.run.model_dump(mode="json")
        body["started"] = result.started.started
    if result.summary:
        body["summary"] = result.summary
    if getattr(command, "via_api", False):
        return api_response(202 if result.started is not None and result.started.started else 200, body)
    return plain_answer(body)


def answer_error(raw: Union[bytes, str, dict], status: int, message: str) -> str:
    if is_api_event(raw):
        return api_response(status, {"error": message})
    return plain_answer({"error": message, "status": status})
