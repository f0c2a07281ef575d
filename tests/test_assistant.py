"""The probe scripts' text, the parser of what they print (recorded Windows outputs included), and the two network
items probing from the ECS instance or from the function, through a scripted assistant."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from precheck import probes
from precheck.checks import CheckContext, Probes, control_network, oss_connectivity
from precheck.checks._network import ASSISTANT_ADVICE
from precheck.models import Endpoint, Instance, ItemStatus
from precheck.ports import AssistantError, Connected, ProbeError
from precheck.probes import ProbeOutputError, parse
from tests.fakes import FakeNetwork, FakeOss, FakeSecrets, FakeSql, instance
from tests.test_assistant_fakes import ScriptedAssistant, fixture

ECS_ID = "i-bp1probe00000001"
ITEMS = (oss_connectivity, control_network)


def line(**fields) -> str:
    base = {"probe": "precheck-network", "version": 1, "os": "linux", "result": "ok", "stage": "connect",
            "address": "100.118.28.6:443", "connect_ms": 1.5, "bucket_status": None, "message": ""}
    base.update(fields)
    import json

    return json.dumps(base)


def context(assistant=None, network=None, oss=None, **overrides) -> CheckContext:
    inst = instance(**overrides)
    network, oss = network or FakeNetwork(), oss or FakeOss()
    made = Probes(network=lambda: network, oss=lambda: oss, sql=lambda: FakeSql(), secrets=lambda: FakeSecrets(),
                  assistant=(lambda: assistant) if assistant is not None else None)
    return CheckContext(inst, made, time.monotonic(), inst.item_timeout_s)


# --- the scripts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["linux", "windows"])
def test_the_scripts_only_look(family):
    """Read-only: no package manager, no file written, no service or setting changed, nothing downloaded to run."""
    text = probes.script(family)
    for forbidden in (r"\bapt(-get)?\b", r"\byum\b", r"\bdnf\b", r"\bpip\b", r"Install-", r"Set-ItemProperty",
                      r"New-Item", r"Set-Content", r"Out-File", r"Start-Service", r"Set-ExecutionPolicy",
                      r"\bsystemctl\b", r"\bchmod\b", r">\s*/(etc|usr|var|root|tmp)", r"Invoke-Expression", r"\biex\b",
                      r"\beval\b", r"curl[^\n]*\|\s*(ba)?sh", r"-o\s+/(?!dev/null)"):
        assert not re.search(forbidden, text), forbidden
    assert "PROBE_HOST" in text and "PROBE_BUCKET" in text and "PROBE_TIMEOUT" in text


def test_the_windows_script_bounds_every_step_and_prints_one_line():
    """PowerShell: the resolve and the connect wait on WaitOne(limit), the HEAD has Timeout and ReadWriteTimeout;
    every way out is Emit, which writes one line and exits; an unexpected error is trapped into one."""
    text = probes.script("windows")
    assert text.count("AsyncWaitHandle.WaitOne($limitMs)") == 2
    assert "$request.Timeout = $limitMs" in text and "$request.ReadWriteTimeout = $limitMs" in text
    assert "$request.Method = 'HEAD'" in text and "Authorization" not in text
    assert text.count("Write-Output") == 1 and "trap { Emit 'error'" in text
    assert "'NameResolutionFailure'" in text and "'TrustFailure'" in text and "'Timeout'" in text


def test_the_windows_command_sets_its_inputs_from_base64_only():
    """The preamble holds the inputs as Base64 literals in single quotes: a name cannot become code."""
    target = probes.ProbeTarget(Instance(**{"instance_id": "a", "region": "cn-hangzhou", "server": "h", "user": "u",
                                            "password_ref": "env:P"}).oss(), "erp-backups")
    text = probes.command("windows", target)
    preamble = text.split("# precheck network probe")[0]
    assert re.fullmatch(r"(\$env:PROBE_[A-Z]+ = \[Text\.Encoding\]::UTF8\.GetString\(\[Convert\]::"
                        r"FromBase64String\('[A-Za-z0-9+/=]*'\)\)\n)+", preamble)


# --- the parser -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, result, stage, status", [
    ("windows_ok_private_bucket.txt", "ok", "bucket", 403),
    ("windows_no_such_bucket.txt", "no_such_bucket", "bucket", 404),
    ("windows_connect_timeout.txt", "timeout", "connect", None),
    ("windows_dns.txt", "dns", "resolve", None),
    ("windows_tls.txt", "tls", "bucket", None),
    ("windows_trapped_error.txt", "error", "script", None),  # with the byte-order mark PowerShell may write
])
def test_recorded_windows_outputs_parse(name, result, stage, status):
    report = parse(fixture(name))
    assert (report.result, report.stage, report.bucket_status, report.os) == (result, stage, status, "windows")


@pytest.mark.parametrize("name", ["windows_execution_policy.txt", "windows_powershell_error.txt"])
def test_powershell_errors_are_output_errors_with_the_text(name):
    with pytest.raises(ProbeOutputError) as raised:
        parse(fixture(name))
    assert raised.value.reason == "the probe printed no result line"
    assert raised.value.text.startswith(fixture(name).strip()[:40].replace("\n", " "))


@pytest.mark.parametrize("output", [
    "", "x" * 100_000, "{not json", '{"probe": "other"}', line() + "\n" + line(),
    line(version=2), line(result="exploded"), line(connect_ms="fast"), line(bucket_status=True),
    line(connect_ms=float("nan")).replace("NaN", "1e999"), '{"probe": "precheck-network", "version": 1}',
    "\x00\x01\x02" * 50, "[1, 2]",
])
def test_anything_else_is_an_output_error_never_a_crash(output):
    """Empty, huge, broken, foreign, repeated or ill-typed lines: ProbeOutputError, its text at most 301 chars."""
    with pytest.raises(ProbeOutputError) as raised:
        parse(output)
    assert len(raised.value.text) <= probes.MAX_QUOTED + 1
    assert all(ord(char) >= 32 for char in raised.value.text)


def test_noise_around_the_line_is_tolerated():
    """A banner or a warning before the line (a login profile, a PowerShell warning) does not hide the result."""
    assert parse("WARNING: something\r\n" + line(result="refused") + "\r\n\r\n").result == "refused"


# --- the items, from the instance -------------------------------------------------------------------------


@pytest.mark.parametrize("item", ITEMS)
def test_with_an_ecs_instance_both_items_probe_from_it(item):
    """ecs_instance_id named: the assistant runs the probe there (the function's probes are not used), and the
    outcome says probed_from instance."""
    network = FakeNetwork(default=ProbeError("refused", ""))
    assistant = ScriptedAssistant(line(bucket_status=403, stage="bucket"))
    verdict = item.run(context(assistant, network=network, ecs_instance_id=ECS_ID, os_family="windows",
                               bucket="erp-backups"))
    assert verdict.status is ItemStatus.PASSED
    assert verdict.details["probed_from"] == "instance" and verdict.details["ecs_instance_id"] == ECS_ID
    assert f"from ECS instance {ECS_ID}" in verdict.message
    assert network.calls == []
    (instance_id, region, os_family, target, timeout), = assistant.calls
    assert (instance_id, region, os_family) == (ECS_ID, "cn-hangzhou", "windows")
    assert 0 < timeout <= 30 and target.step_timeout <= 5
    assert target.bucket == ("erp-backups" if item is oss_connectivity else None)


def test_an_instance_naming_its_ecs_host_gets_the_assistants_time_limit():
    """30 s unless the instance sets its own limit."""
    assert instance(ecs_instance_id=ECS_ID).item_timeout_s == 30
    assert instance(ecs_instance_id=ECS_ID, item_timeout_s=12).item_timeout_s == 12
    assert instance().item_timeout_s == 10


@pytest.mark.parametrize("value", ["i-", "I-BP1ABCDEFGH", "bp1abcdefgh", "i-bp1$(id)xxxx", "i-" + "a" * 40])
def test_ecs_instance_ids_are_validated(value):
    with pytest.raises(ValueError):
        instance(ecs_instance_id=value)


@pytest.mark.parametrize("result, stage, status, words", [
    ("refused", "connect", None, "refused the connection"),
    ("dns", "resolve", None, "cannot resolve"),
    ("timeout", "connect", None, "did not accept a connection within the time limit"),
    ("tls", "bucket", None, "TLS handshake"),
    ("no_such_bucket", "bucket", 404, "bucket erp-backups does not exist"),
])
def test_network_failures_on_the_instance_are_failed_with_the_instances_advice(result, stage, status, words):
    assistant = ScriptedAssistant(line(result=result, stage=stage, bucket_status=status, connect_ms=None))
    verdict = oss_connectivity.run(context(assistant, ecs_instance_id=ECS_ID, bucket="erp-backups"))
    assert verdict.status is ItemStatus.FAILED
    assert words in verdict.message and verdict.details["reason"] == result
    assert "instance's security groups" in verdict.advice


def test_a_public_bucket_passes_and_says_it_is_public():
    assistant = ScriptedAssistant(line(stage="bucket", bucket_status=200))
    verdict = oss_connectivity.run(context(assistant, ecs_instance_id=ECS_ID, bucket="erp-backups"))
    assert verdict.status is ItemStatus.PASSED and "public" in verdict.message


@pytest.mark.parametrize("kind", sorted(set(ASSISTANT_ADVICE) - {"output"}))
def test_each_cloud_assistant_failure_is_an_error_with_its_own_advice(kind):
    """Agent not running, instance stopped, RAM denied, throttled, host timeout, our limit...: ERROR, each with
    its advice, for both items."""
    for item in ITEMS:
        assistant = ScriptedAssistant(error=AssistantError(kind, "what happened"))
        verdict = item.run(context(assistant, ecs_instance_id=ECS_ID))
        assert verdict.status is ItemStatus.ERROR
        assert verdict.advice == ASSISTANT_ADVICE[kind]
        assert verdict.details["reason"] == kind and verdict.details["probed_from"] == "instance"
        assert "what happened" in verdict.message
    assert len(set(ASSISTANT_ADVICE.values())) == len(ASSISTANT_ADVICE)


def test_output_that_is_not_the_result_line_is_an_error_quoting_it():
    """A PowerShell error instead of the line: ERROR, the text quoted (bounded), never a crash."""
    assistant = ScriptedAssistant(fixture("windows_execution_policy.txt") * 100, os_family="windows")
    verdict = control_network.run(context(assistant, ecs_instance_id=ECS_ID))
    assert verdict.status is ItemStatus.ERROR and verdict.advice == ASSISTANT_ADVICE["output"]
    assert "running scripts is disabled" in verdict.details["output"]
    assert len(verdict.details["output"]) <= probes.MAX_QUOTED + 1


def test_a_deployment_without_an_assistant_says_so():
    verdict = control_network.run(context(None, ecs_instance_id=ECS_ID))
    assert verdict.status is ItemStatus.ERROR and verdict.details["probed_from"] == "instance"


# --- the items, from the function -------------------------------------------------------------------------


@pytest.mark.parametrize("item", ITEMS)
def test_without_an_ecs_instance_the_function_probes_and_says_so(item):
    """No ecs_instance_id: probed_from function, the message says it is the function's network, and the advice
    (on failure) speaks of the function's network, not of the instance's security group."""
    passed = item.run(context(network=FakeNetwork(default=Connected("100.100.1.1:443", 3.0))))
    failed = item.run(context(network=FakeNetwork(default=ProbeError("refused", ""))))
    for verdict in (passed, failed):
        assert verdict.details["probed_from"] == "function"
        assert "check function's network" in verdict.message
    assert passed.status is ItemStatus.PASSED and failed.status is ItemStatus.FAILED
    assert "security group" not in failed.advice and "function's VPC" in failed.advice


def test_a_function_bucket_failure_says_where_it_looked_from():
    verdict = oss_connectivity.run(context(oss=FakeOss(ProbeError("access_denied", "")), bucket="erp-backups"))
    assert verdict.status is ItemStatus.FAILED and verdict.details["probed_from"] == "function"
    assert "security group" not in verdict.advice and "oss:GetBucketInfo" in verdict.advice


# --- where the ECS SDK may be imported ----------------------------------------------------------------------


def test_only_the_cloud_assistant_adapter_imports_the_ecs_sdk_and_only_lazily():
    """aliyunsdkecs/aliyunsdkcore: imported by adapters/assistant_ecs.py alone, which wiring imports only inside
    the assistant factory a network item calls when an instance names its ECS host (cold start of the others)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    importers, referrers = set(), set()
    for path in [*(root / "shared" / "precheck").rglob("*.py"), *(root / "functions").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.startswith(("aliyunsdkecs", "aliyunsdkcore")) for name in names):
                importers.add(path.name)
            if any("assistant_ecs" in name for name in names):
                referrers.add(path.name)
                assert node.col_offset > 0, f"{path.name} imports the Cloud Assistant adapter at module level"
    assert importers == {"assistant_ecs.py"}
    assert referrers == {"wiring.py"}


@pytest.mark.parametrize("family", ["linux", "windows"])
def test_the_command_fits_cloud_assistants_size_limit(family):
    """RunCommand's CommandContent: at most 18 KB once Base64-encoded (REFERENCE: 24 KB of text, 18 KB of Base64),
    with the longest inputs the model allows."""
    import base64

    from precheck.models import Endpoint

    target = probes.ProbeTarget(Endpoint.parse("a" * 255, default_port=443), "b" * 63, 5)
    assert len(base64.b64encode(probes.command(family, target).encode())) <= 18 * 1024


def test_a_probe_target_and_its_report_are_frozen_values():
    """As the frozen dataclasses they were (precheck.frozen): positional or keyword, ==, hash, assignment refused."""
    endpoint = Endpoint.parse("oss-cn-hangzhou.aliyuncs.com", default_port=443)
    target = probes.ProbeTarget(endpoint, "b", 5)
    assert target == probes.ProbeTarget(endpoint=endpoint, bucket="b", step_timeout=5) != probes.ProbeTarget(endpoint)
    assert hash(target) == hash(probes.ProbeTarget(endpoint, "b", 5))
    assert probes.ProbeTarget(endpoint).step_timeout == 3.0
    report = parse('{"probe": "precheck-network", "version": 1, "result": "ok", "stage": "connect"}')
    assert repr(report) == ("ProbeReport(result='ok', stage='connect', address='', connect_ms=None, "
                            "bucket_status=None, message='', os='')")
    for value, field in ((target, "bucket"), (report, "result")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)
