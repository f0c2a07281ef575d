"""Every handler fuzzed with generated events (issue 11): 0 unhandled exceptions, every answer well formed.

Envelopes are built from the models the parsers read (ApiRequest, TimerEvent, CloudEvent, RecheckPage,
CheckRequest, DestinationEvent, Instance, Outcome) with drawn fields, ids that exist and ids that do not;
then mutated: values replaced by wrong types, huge, negative and non-finite numbers, deep nesting, lone
surrogates and oversized text; keys dropped, added and renamed; the JSON inside API bodies, EventBridge
data and destination payloads mutated the same way; and the raw text cut or corrupted. Each handler gets
events of every kind, mostly its own.

An answer is well formed when it is a JSON string: for an API Gateway event an ApiResponse whose body is
JSON, and a 4xx with an `error` message, never a 5xx; for other events a JSON object, with `error` and a 4xx
`status` when the event was refused. The store is SQLite in memory (fan-out recorded, checks answered by
fakes). The counts are printed.

FUZZ_EVENTS_PER_HANDLER (read here only) sets the events per handler; CI runs the issue's 10,000.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from precheck import local
from precheck.adapters.sqlite_store import SqliteResultStore
from precheck.deps import Deps
from precheck.envelopes import ApiRequest, CloudEvent, DestinationEvent, TimerEvent
from precheck.layout import all_functions
from precheck.models import CheckRequest, ItemStatus, Outcome, Run
from precheck.testing import Client
from tests.fakes import Clock, FakeSecrets, RecordingInvoker, instance, probes

EVENTS_PER_HANDLER = int(os.environ.get("FUZZ_EVENTS_PER_HANDLER", "10000"))
BATCH = 20  # events per generated example: each example draws a seed that makes BATCH events
HANDLERS = all_functions()
KINDS = ("api", "timer", "registration", "batch", "page", "check", "destination")
OWN = {"start_precheck": ("api", "timer", "registration", "batch", "page"), "get_last_result": ("api",),
       "collect_outcome": ("destination",)}
ITEMS = ("oss_connectivity", "control_network", "recovery_mode", "database_status")
NOW = 1_800_000_000.0
RUN_ID = "1800000000000-abcdef01"
IDS = ("erp-prod", "nope", "", "a" * 65, "x y", "../etc", "é", "\ud800", "erp-prod;PWD=x", "0")

tally: dict[str, Counter] = {handler: Counter() for handler in HANDLERS}


@pytest.fixture(scope="module")
def client(pytestconfig):
    store = SqliteResultStore(":memory:")
    base = instance(instance_id="erp-prod")
    store.save_instance(base)
    store.create_run(Run(run_id=RUN_ID, instance_id="erp-prod", items=list(ITEMS), created_at=NOW,
                         deadline=NOW + 12))
    deps = Deps(store=store, invoker=RecordingInvoker(), probes=probes(secrets=FakeSecrets()), clock=Clock(NOW),
                grace_s=2.0, fanout_workers=1)
    with Client(deps, local.Functions()) as client:
        yield client
    store.close()
    report = {handler: dict(counts) for handler, counts in tally.items()}
    # with capture suspended (as capsys.disabled() does), so CI's log shows the figures of a passing run
    with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print("\nevent fuzzing: " + json.dumps(report, sort_keys=True))


# --- envelopes, from the models ------------------------------------------------------------------------------


def an_instance(rng: random.Random) -> dict:
    fields = instance(instance_id=rng.choice(("erp-prod", "new-1", "new-2"))).model_dump(mode="json")
    if rng.random() < 0.3:
        fields.update(rng.choice([{"server": "db\\SALES"}, {"encrypt": "require", "ca_file": "/etc/ca.pem"},
                                  {"skip_items": ["recovery_mode"]}, {"item_timeout_s": 0.5},
                                  {"oss_endpoint": "127.0.0.1:9"}, {"bucket": "my-bucket"}]))
    return fields


def a_check_request(rng: random.Random, handler: str) -> dict:
    own = handler.removeprefix("check_")
    item = own if own in ITEMS and rng.random() < 0.8 else rng.choice(ITEMS)
    return CheckRequest(run_id=rng.choice((RUN_ID, "1700000000000-00000000", "x")),
                        instance=instance(instance_id=rng.choice(("erp-prod", "other"))),
                        item=item, deadline=NOW + rng.choice((12, -5))).model_dump(mode="json")


def an_outcome(rng: random.Random, item: str) -> dict:
    return Outcome(item=item, status=rng.choice(list(ItemStatus)), message="m", duration_ms=rng.randint(0, 9),
                   details={"n": rng.random()}, finished_at=NOW + 1).model_dump(mode="json")


def envelope(kind: str, rng: random.Random, handler: str) -> dict:
    """A valid event of `kind`, as the models build it (for `handler`: its own route or item, mostly)."""
    if kind == "api":
        instance_id = rng.choice(IDS[:6])
        routes = [("POST", "/instances"), ("POST", f"/instances/{instance_id}/prechecks"),
                  ("GET", f"/instances/{instance_id}/prechecks/latest"), ("PUT", "/instances"),
                  ("GET", "/nowhere"), ("POST", f"/v1/instances/{instance_id}/prechecks")]
        own_route = handler == "get_last_result" and rng.random() < 0.7
        method, path = routes[2] if own_route else rng.choice(routes)
        name = rng.choice(("instance_id", "instanceId", "id", None))
        parameters = {name: instance_id} if name and "{" not in path and "/instances/" in path else {}
        body = an_instance(rng) if path == "/instances" else rng.choice((None, {}, None))
        return json.loads(ApiRequest.build(method, path, parameters, body).to_bytes())
    if kind == "timer":
        return json.loads(TimerEvent(triggerTime="2026-11-29T00:00:00Z", triggerName="nightly").to_bytes())
    if kind == "registration":
        return json.loads(CloudEvent(id=str(rng.randint(0, 50)), source="acs.custom.inventory", specversion="1.0",
                                     type="sqlserver:Instance:Registered", data=an_instance(rng)).to_bytes())
    if kind == "batch":
        return {"batch": [envelope("registration", rng, handler) for _ in range(rng.randint(1, 3))]}
    if kind == "page":
        return {"recheck": [rng.choice(IDS[:4]) for _ in range(rng.randint(0, 3))]}
    request = a_check_request(rng, handler)
    if kind == "check":
        return request
    error = RuntimeError("boom") if rng.random() < 0.2 else None
    response = None if error else json.dumps(an_outcome(rng, request["item"]))
    return json.loads(DestinationEvent.build(function_arn="acs:fc:x", request_id="r", now_ms=int(NOW * 1000),
                                             request_payload=json.dumps(request).encode(), response=response,
                                             error=error).to_bytes())


# --- mutations -------------------------------------------------------------------------------------------------

#: JSON fields that hold JSON text: mutated inside, then written back as text
NESTED = ("body", "requestPayload", "responsePayload")
RAW = ("NaN", "Infinity", "-Infinity", "1e400", "-1e999", "123456789012345678901234567890", "-0", "1e-400",
       "9223372036854775808")


class Raw:
    """A placeholder for JSON text no Python value serialises to (NaN, 1e400, 1,000 nested arrays)."""

    def __init__(self, text: str):
        self.text = text


def a_value(rng: random.Random) -> object:
    choice = rng.randrange(16)
    if choice == 0:
        return Raw(rng.choice(RAW))
    if choice == 1:
        depth = rng.choice((33, 100, 1000, 5000))
        return Raw("[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth)
    if choice == 2:
        return rng.choice(("\ud800", "a\udfffb", "\ud83d", "ok\ud83d\ude00"))
    if choice == 3:
        return "x" * rng.choice((300, 70_000, 1_100_000))
    if choice == 4:
        return rng.choice((-1, -(2**31), 2**63 - 1, 2**64, 10**30, 0))
    if choice == 5:
        return rng.choice((-1.5, 1e308, -1e308, 5e-324, 0.0))
    if choice == 6:
        return rng.choice((None, True, False))
    if choice == 7:
        return rng.choice(([], {}, [1, "a", None], {"k": [{}]}))
    if choice == 8:
        return rng.choice(("", " ", "null", "{}", "[]", "not json", '{"a":'))
    if choice == 9:
        return rng.choice(("PASSED", "PENDING", "RUNNING", "env:SQL_PASSWORD", "db,0", "tcp:db,1433", "[::1]"))
    if choice == 10:
        return rng.choice(IDS)
    if choice == 11:
        return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 20)))
    return rng.choice((1, 2.5, "a", "2026-11-29T00:00:00Z", 1795598859123))


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutate(document: object, rng: random.Random) -> object:
    """One mutation somewhere in `document` (possibly inside its JSON-in-text fields)."""
    targets = [path for path in paths(document) if path]
    if not targets:
        return a_value(rng)
    path = rng.choice(targets)
    parent = document
    for step in path[:-1]:
        parent = parent[step]  # type: ignore[index]
    key = path[-1]
    current = parent[key]  # type: ignore[index]
    if key in NESTED and isinstance(current, str) and rng.random() < 0.6:
        try:
            inner = json.loads(current)
        except ValueError:
            inner = None
        if inner is not None:
            parent[key] = Nested(mutate(inner, rng))  # type: ignore[index]
            return document
    action = rng.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(("extra", "password", "PWD", "instance_id", "httpMethod", "specversion"))] = a_value(rng)
    elif action == 2 and isinstance(parent, dict):
        parent[f"{key}_renamed"] = parent.pop(key)
    else:
        parent[key] = a_value(rng)  # type: ignore[index]
    return document


class Nested:
    """A JSON-in-text field whose content was mutated: written back as text."""

    def __init__(self, value: object):
        self.value = value


def render(value: object) -> str:
    """The document as JSON text, placeholders replaced by their raw text (inside nested text too)."""
    raws: list[str] = []

    def encode(item: object) -> object:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(item, Nested):
            return render(item.value)
        if isinstance(item, dict):
            return {key: encode(child) for key, child in item.items()}
        if isinstance(item, list):
            return [encode(child) for child in item]
        return item

    text = json.dumps(encode(value))
    for number, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{number}@@"', raw)
    return text


def an_event(handler: str, rng: random.Random) -> tuple[str, str]:
    """(kind, event text) for `handler`: its own kinds mostly, any kind sometimes; mutated or cut."""
    own = OWN.get(handler, ("check",))
    kind = rng.choice(own) if rng.random() < 0.75 else rng.choice(KINDS)
    document: object = envelope(kind, rng, handler)
    if kind == "batch":
        document = document["batch"]  # type: ignore[index]
    for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
        document = mutate(document, rng)
    text = render(document)
    if rng.random() < 0.05:
        cut = rng.randrange(len(text) + 1)
        text = text[:cut] + rng.choice(("", "\x00", "}", "\\", '"'))
    return kind, text


# --- the checks ------------------------------------------------------------------------------------------------


def well_formed(handler: str, event: str, answer: object) -> str:
    """The answer's class ("ok", "4xx", ...) after checking it is well formed; AssertionError otherwise."""
    assert isinstance(answer, str), f"{handler} answered {type(answer).__name__}"
    value = json.loads(answer)
    if isinstance(value, dict) and "statusCode" in value:
        status = value["statusCode"]
        body = json.loads(value["body"])
        assert status < 500, f"{handler}: {status} {body}"
        if status >= 400:
            assert isinstance(body.get("error"), str) and body["error"], body
            return f"http_{status}"
        return "http_2xx"
    assert isinstance(value, dict), f"{handler} answered {answer[:200]}"
    if "error" in value:
        assert isinstance(value["error"], str) and value["error"] and 400 <= value["status"] < 500, value
        return f"refused_{value['status']}"
    return "ok"


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_handler_answers_every_generated_event(client, handler):
    problems: list[str] = []

    @settings(max_examples=max(1, EVENTS_PER_HANDLER // BATCH), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(min_value=0, max_value=2**32))
    def fuzz(seed):
        rng = random.Random(seed)
        for _ in range(BATCH):
            kind, event = an_event(handler, rng)
            tally[handler]["events"] += 1
            try:
                answer = client.functions.call(handler, event.encode("utf-8", "surrogatepass"))
                tally[handler][well_formed(handler, event, answer)] += 1
            except Exception as error:  # an unhandled exception, or an answer that is not well formed
                tally[handler]["unhandled"] += 1
                if len(problems) < 5:
                    problems.append(f"{kind}: {type(error).__name__}: {str(error)[:300]} <- {event[:300]!r}")

    fuzz()
    print(f"\n{handler}: {dict(tally[handler])}")
    assert tally[handler]["events"] >= EVENTS_PER_HANDLER
    assert tally[handler]["unhandled"] == 0, problems
