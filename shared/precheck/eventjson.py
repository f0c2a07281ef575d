"""Event JSON read strictly, and a check function's request: the part of the events every handler needs.

Kept apart from the trigger envelopes (`precheck.envelopes`, which re-exports these names) so that a check
function, which reads no envelope, imports neither them nor the route table (cold start: bench/cold_start.py).
Every parse failure becomes `BadEvent` with a message that names the problem and never echoes a value (a value
could be a password).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from .models import CheckRequest

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


#: a quoted part of pydantic's message; a pattern text, compiled (and cached by `re`) when a message is shown,
#: which a valid event never needs (cold start)
_QUOTED = r"'[^']*'|\"[^\"]*\""


def _location(part: Any) -> str:
    """A field name as it may be shown: an unknown key of the caller's is a value too."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_]{1,64}", text) else "(a field)"


def _without_input(message: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str) if value is not None else ""
    if len(text) >= 4 and text in message:
        message = message.replace(text, "(value not shown)")
    return re.sub(_QUOTED, lambda found: "(value not shown)" if len(found[0]) > 5 and found[0][1:-1] in text
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


def _has_surrogate(text: str) -> bool:
    """Whether `text` holds a UTF-16 surrogate code point (U+D800..U+DFFF), which no UTF-8 store can hold: the
    one thing UTF-8 cannot encode. No regex: compiling one cost every check function's cold start ~0.14 ms."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
            if _has_surrogate(item):
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
    if _plainly_acceptable(raw):
        return value
    return check_json_value(value, what)


def _plainly_acceptable(raw: bytes | bytearray | str) -> bool:
    """Whether the text alone shows what `check_json_value` would walk the parsed value for (issue 16: three walks
    per outcome delivered): the parse's own hooks have refused every number out of range or not finite, so what
    is left is nesting and surrogates. Fewer `{` and `[` than MAX_JSON_DEPTH cannot nest deeper (each is one byte
    in any encoding json.loads detects, so the count never falls short), and ASCII text without a `\\ud` escape
    cannot hold a surrogate (json.loads decodes bytes with "surrogatepass": non-ASCII bytes could). Anything
    else is walked."""
    if isinstance(raw, str):
        return (raw.count("{") + raw.count("[") <= MAX_JSON_DEPTH and raw.isascii()
                and "\\ud" not in raw and "\\uD" not in raw)
    return (raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH and raw.isascii()
            and b"\\ud" not in raw and b"\\uD" not in raw)


def parse_check_request(raw: bytes | str | dict, item: str | None = None) -> CheckRequest:
    """The request `start_precheck` sends a check function (and the destination event carries back), parsed
    strictly (`load_json`) and validated as a `CheckRequest`; `item`, when given, must be the one it names."""
    request: CheckRequest = parse_model(CheckRequest, load_json(raw, "check request"), "check request")
    if item is not None and request.item != item:
        raise BadEvent(f"this function checks {item!r}, not {request.item[:64]!r}")
    return request
