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
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from .eventjson import (  # noqa: F401 (re-exported: the events' JSON rules are part of this module's interface)
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_INT,
    BadEvent,
    check_json_value,
    describe_validation,
    load_json,
    parse_model,
)
from .models import Model, new_dict


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
    headers: dict[str, Any] = Field(default_factory=new_dict)
    queryParameters: dict[str, Any] = Field(default_factory=new_dict)
    pathParameters: dict[str, Any] = Field(default_factory=new_dict)
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
    headers: dict[str, str] = Field(default_factory=new_dict)
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


def _response_context() -> DestinationResponseContext:
    return DestinationResponseContext()


class DestinationEvent(Envelope):
    """What FC delivers to an onSuccess/onFailure destination after an async invocation."""

    model_config = ConfigDict(extra="ignore")

    timestamp: int | float | str | None = None
    requestContext: DestinationRequestContext
    requestPayload: str
    responseContext: DestinationResponseContext = Field(default_factory=_response_context)
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
