"""Trigger envelopes, each a model that both parses an event and builds one.

API Gateway's request to an FC event function, the timer's event, an EventBridge CloudEvent and the event FC
delivers to an async destination. The command line, the local API, the in-process invoker and the tests
build their events with these same models, so what they send is what the parsers read. Every parse failure
becomes `BadEvent` with a message that names the problem and never echoes a value (a value could be a
password).
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .models import Model

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 6 * 1024 * 1024  # FC's own limit for a synchronous event; anything larger is not ours


class BadEvent(Exception):
    """A client error: the event or request cannot be used. `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def describe_validation(error: ValidationError) -> str:
    """The fields that failed and the rule each broke, never a value: pydantic's own messages state rules;
    our validators' messages are written without values, and any quoted text that is part of the value
    (a validator of another library) is cut out all the same."""
    parts = []
    details = error.errors(include_url=False)
    for detail in details[:5]:
        where = ".".join(_location(part) for part in detail["loc"]) or "body"
        parts.append(f"{where}: {_without_input(detail['msg'], detail.get('input'))}")
    more = len(details) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _location(part: Any) -> str:
    """A field name as it may be shown: an unknown key of the caller's is a value too."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_]{1,64}", text) else "(a field)"


def _without_input(message: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str) if value is not None else ""
    if len(text) >= 4 and text in message:
        message = message.replace(text, "(value not shown)")
    return _QUOTED.sub(lambda found: "(value not shown)" if len(found[0]) > 5 and found[0][1:-1] in text
                       else found[0], message)


def parse_model(model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadEvent(f"invalid {what}: {describe_validation(error)}") from None


#: Deepest nesting of arrays and objects an event may have: ours are 4 deep; 1,000 levels would exhaust the
#: recursion of the JSON decoder and of validation.
MAX_JSON_DEPTH = 32
#: Integers beyond a signed 64-bit value fit neither a store's integer nor a float exactly.
MAX_JSON_INT = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows (non-finite numbers are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number is too large for a float (non-finite numbers are refused)")
    return value


def _bounded_int(text: str) -> int:
    value = int(text) if len(text) <= 20 else None  # 20: a sign and 19 digits; longer cannot be in range
    if value is None or abs(value) > MAX_JSON_INT:
        raise _Refused("an integer is out of range (|n| < 2^63)")
    return value


class _Refused(ValueError):
    """A JSON text that parses but holds what no event of ours may carry."""


def check_json_value(value: Any, what: str = "event") -> Any:
    """`value` (parsed JSON, or a dict handed in as is) if its nesting, numbers and strings are acceptable:
    at most MAX_JSON_DEPTH levels, finite numbers in range, text without lone UTF-16 surrogates (which no
    UTF-8 store can hold); BadEvent otherwise. Iterative: a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadEvent(f"{what} holds text that is not valid Unicode (a lone UTF-16 surrogate)")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise BadEvent(f"{what} holds a number that is not finite (NaN or Infinity)")
        elif isinstance(item, int):
            if abs(item) > MAX_JSON_INT:
                raise BadEvent(f"{what} holds an integer out of range (|n| < 2^63)")
        elif isinstance(item, (dict, list, tuple)):
            if depth > MAX_JSON_DEPTH:
                raise BadEvent(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return value


def load_json(raw: bytes | str | dict, what: str = "event", limit: int = MAX_EVENT_BYTES) -> Any:
    """Parse an event or body strictly (see `check_json_value`); every problem is a BadEvent naming it,
    never the value."""
    if isinstance(raw, dict):
        return check_json_value(raw, what)
    if isinstance(raw, (bytes, bytearray, str)) and len(raw) > limit:
        raise BadEvent(f"{what} is larger than {limit} bytes", status=413)
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except _Refused as error:
        raise BadEvent(f"{what} is not acceptable JSON: {error}") from None
    except RecursionError:
        raise BadEvent(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        where = getattr(error, "pos", "?")
        raise BadEvent(f"{what} is not valid JSON: {error.__class__.__name__} at {where}") from None
    return check_json_value(value, what)


class Envelope(Model):
    def to_bytes(self) -> bytes:
        """The event as FC hands it to a handler."""
        return self.model_dump_json(exclude_none=False).encode("utf-8")


# --- API Gateway ----------------------------------------------------------------------------------------


class ApiRequest(Envelope):
    """API Gateway's request to an FC event function."""

    model_config = ConfigDict(extra="ignore")

    path: str
    httpMethod: str
    headers: dict[str, Any] = Field(default_factory=dict)
    queryParameters: dict[str, Any] = Field(default_factory=dict)
    pathParameters: dict[str, Any] = Field(default_factory=dict)
    body: str | None = None
    isBase64Encoded: bool = False

    @field_validator("headers", "queryParameters", "pathParameters", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @classmethod
    def build(cls, method: str, path: str, path_parameters: dict[str, str] | None = None,
              body: bytes | str | dict | None = None, headers: dict[str, str] | None = None,
              query: dict[str, str] | None = None) -> ApiRequest:
        """The event API Gateway sends for a request; a body that is not UTF-8 goes base64, as API Gateway
        sends it."""
        encoded = False
        text: str | None
        if body is None:
            text = None
        elif isinstance(body, dict):
            text = json.dumps(body)
        elif isinstance(body, bytes):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text, encoded = base64.b64encode(body).decode("ascii"), True
        else:
            text = body
        return cls(path=path, httpMethod=method, headers=headers or {"Content-Type": "application/json"},
                   queryParameters=query or {}, pathParameters=path_parameters or {}, body=text,
                   isBase64Encoded=encoded)

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


class ApiResponse(Envelope):
    """What an FC function answers API Gateway (the function returns it serialised as a JSON string)."""

    isBase64Encoded: bool = False
    statusCode: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""

    def json_body(self) -> Any:
        return json.loads(self.body or "{}")


# --- Timer, EventBridge -----------------------------------------------------------------------------------


class TimerEvent(Envelope):
    """FC's time trigger event."""

    triggerTime: str
    triggerName: str = ""
    payload: str | None = None


class CloudEvent(Envelope):
    """An EventBridge event (CloudEvents 1.0 with Alibaba Cloud's extensions)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=256)
    specversion: str
    type: str
    subject: str | None = None
    time: str | None = None
    data: Any = None
    aliyunaccountid: str | None = None
    aliyunregionid: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"cloudevent\n{self.source}\n{self.id}"


# --- FC async destination -----------------------------------------------------------------------------


class DestinationRequestContext(Model):
    model_config = ConfigDict(extra="ignore")

    requestId: str = ""
    functionArn: str = ""
    condition: str = ""
    approximateInvokeCount: int = 1

    @field_validator("requestId", "functionArn", "condition", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class DestinationResponseContext(Model):
    model_config = ConfigDict(extra="ignore")

    statusCode: int = 200
    functionError: str = ""

    @field_validator("functionError", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class DestinationEvent(Envelope):
    """What FC delivers to an onSuccess/onFailure destination after an async invocation."""

    model_config = ConfigDict(extra="ignore")

    timestamp: int | float | str | None = None
    requestContext: DestinationRequestContext
    requestPayload: str
    responseContext: DestinationResponseContext = Field(default_factory=DestinationResponseContext)
    responsePayload: str | None = None

    @classmethod
    def build(cls, *, function_arn: str, request_id: str, request_payload: bytes, now_ms: int,
              response: str | None = None, error: BaseException | None = None,
              attempts: int = 1) -> DestinationEvent:
        """The event FC delivers after an async invocation: onSuccess when `error` is None, onFailure
        otherwise (an unhandled exception, as FC reports it)."""
        condition = "" if error is None else "UnhandledInvocationError"
        payload = response if error is None else json.dumps(
            {"errorMessage": str(error)[:1000], "errorType": type(error).__name__, "stackTrace": []})
        return cls(timestamp=now_ms,
                   requestContext=DestinationRequestContext(requestId=request_id, functionArn=function_arn,
                                                            condition=condition, approximateInvokeCount=attempts),
                   requestPayload=request_payload.decode("utf-8", "replace"),
                   responseContext=DestinationResponseContext(statusCode=200, functionError=condition),
                   responsePayload=payload)

    @property
    def failed(self) -> bool:
        """FC says the function failed: a `functionError`, or a `statusCode` that is not 2xx (a system
        error). `requestContext.condition` alone decides nothing: its success values are not documented
        (see `commands.parse_delivery`)."""
        return bool(self.responseContext.functionError.strip()) or not 200 <= self.responseContext.statusCode < 300

    def epoch_seconds(self) -> float | None:
        stamp = self.timestamp
        if isinstance(stamp, (int, float)):
            return stamp / 1000 if stamp > 1e11 else float(stamp)
        if isinstance(stamp, str) and stamp:
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return None
