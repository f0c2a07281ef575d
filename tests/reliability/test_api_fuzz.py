"""The local API fuzzed from openapi.yaml with schemathesis (issue 11): valid and invalid requests generated
from the document for every operation, sent over HTTP to `precheck serve`'s server on a loopback port, in front
of the real handlers (SQLite store; invocations recorded, not run). 0 server errors; every client error is a
4xx JSON with a message; every answer is one the document declares, with its schema. The counts are printed.

FUZZ_API_EXAMPLES (read here only) sets the examples per operation; CI runs the default."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from precheck import local
from precheck.adapters.sqlite_store import SqliteResultStore
from precheck.deps import Deps
from precheck.localapi import LocalApi
from precheck.testing import Client
from tests.fakes import RecordingInvoker

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.yaml"
EXAMPLES = int(os.environ.get("FUZZ_API_EXAMPLES", "300"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_path(str(DOCUMENT))
answers: Counter = Counter()
problems: list[str] = []


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    store = SqliteResultStore(tmp_path_factory.mktemp("fuzz") / "precheck.db")
    deps = Deps(store=store, invoker=RecordingInvoker(), grace_s=1.0)
    with Client(deps), LocalApi(functions=local.DEFAULT) as served:
        yield served
    store.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_local_api_answers_every_generated_request_as_documented(case, api):
    response = case.call(base_url=api.url, timeout=30)
    answers[f"{case.method} {case.path} {response.status_code}"] += 1
    if 400 <= response.status_code < 500:
        try:
            message = response.json().get("error")
        except ValueError:
            message = None
        if not (isinstance(message, str) and message):
            problems.append(f"{case.method} {case.path}: {response.status_code} without a JSON error message")
    case.validate_response(response, checks=CHECKS)


def test_fuzzing_counts(capsys):
    """The figures: requests sent, by operation and status; none was a server error or a bare 4xx."""
    by_status = Counter()
    for key, count in answers.items():
        by_status[key.rsplit(" ", 1)[1]] += count
    with capsys.disabled():
        print("\n" + json.dumps({"api_fuzz_requests": sum(answers.values()),
                                 "by_status": dict(sorted(by_status.items())),
                                 "by_operation": dict(sorted(answers.items())), "problems": len(problems)}))
    assert sum(answers.values()) >= EXAMPLES
    assert not [status for status in by_status if status.startswith("5")]
    assert problems == []
