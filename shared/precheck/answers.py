"""What the handlers answer: API Gateway responses, and plain JSON for the other triggers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .envelopes import ApiResponse, BadEvent, load_json

if TYPE_CHECKING:
    from .commands import StartCommand
    from .service import StartResult


def api_response(status: int, body: Any, headers: dict | None = None) -> str:
    """API Gateway's FC-backend answer, serialised as the JSON string the function returns."""
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body, default=_json_default)
    return ApiResponse(statusCode=status, body=text,
                       headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})}
                       ).model_dump_json()


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def plain_answer(body: Any) -> str:
    """The answer of a function not called through API Gateway (timer, EventBridge, async)."""
    return json.dumps(body, default=_json_default)


def start_answer(command: StartCommand, result: StartResult) -> str:
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


def is_api_event(raw: bytes | str | dict) -> bool:
    try:
        data = load_json(raw)
    except BadEvent:
        if isinstance(raw, bytes):
            return b'"httpMethod"' in raw
        return isinstance(raw, str) and '"httpMethod"' in raw
    return isinstance(data, dict) and "httpMethod" in data


def answer_error(raw: bytes | str | dict, status: int, message: str) -> str:
    if is_api_event(raw):
        return api_response(status, {"error": message})
    return plain_answer({"error": message, "status": status})
