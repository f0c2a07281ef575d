"""What the two network items share: where they probe from, the words for a failed connection, and the advice
for each way Cloud Assistant itself can fail.

An instance that names its ECS instance (`ecs_instance_id`) is probed from that host, through the assistant port
(Cloud Assistant in the cloud, bash on this machine locally): `details.probed_from` is "instance". Otherwise the
probe runs in the check function's own network, which is not the server's (FC's VPC access, its own DNS and
routes): `probed_from` is "function" and the message says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import timeouts
from ..frozen import Frozen
from ..models import Endpoint, ItemStatus
from ..ports import AssistantError, ProbeError
from . import CheckContext, Verdict

if TYPE_CHECKING:
    from ..probes import ProbeReport

INSTANCE = "instance"
FUNCTION = "function"

_REASONS = {
    "dns": "cannot resolve {host}",
    "refused": "{endpoint} refused the connection",
    "timeout": "{endpoint} did not accept a connection within the time limit",
    "unreachable": "no route to {endpoint}",
    "tls": "TLS handshake with {endpoint} failed",
    "access_denied": "access denied to bucket {bucket}",
    "no_such_bucket": "bucket {bucket} does not exist",
}

#: said of every probe made from the function
FROM_FUNCTION = ("probed from the check function's network, not from the SQL Server's host: name the instance's "
                 "ecs_instance_id to probe from it")

#: the same, where the checks ran on this machine (the command line, the local API): its own network
FROM_HERE = ("probed from this machine's network, where precheck runs, not from the SQL Server's host unless this "
             "machine is that host: name its ECS instance (--ecs-instance-id, ecs_instance_id) to run the host's "
             "probe script here")


def from_function(ctx: CheckContext) -> str:
    """Where a probe without an ECS instance ran, in the words for where the checks run."""
    return FROM_HERE if ctx.probes.local else FROM_FUNCTION


#: what the local assistant (bash on this machine) can fail with, where Cloud Assistant's advice would mislead
LOCAL_ASSISTANT_ADVICE = {
    "unsupported": "On this machine the probe runs as the Linux script with bash: install bash, and name the "
                   "instance's OS linux (--os-family linux) or leave it unset.",
    "host_timeout": "The probe did not finish on this machine within its timeout: check its load and that bash "
                    "starts normally.",
}


def assistant_advice(kind: str, ctx: CheckContext) -> str:
    """What to do when the assistant could not run the probe, worded for where the checks run."""
    if ctx.probes.local and kind in LOCAL_ASSISTANT_ADVICE:
        return LOCAL_ASSISTANT_ADVICE[kind]
    return ASSISTANT_ADVICE.get(kind, ASSISTANT_ADVICE["assistant"])


#: each way Cloud Assistant can fail, and what to do about it (the outcome is ERROR: the item could not look)
ASSISTANT_ADVICE = {
    "agent_not_running": "Install or start the Cloud Assistant agent on the instance (ECS console, Cloud Assistant; "
                         "the service is aliyun-service on Linux, AliyunService on Windows), then run the precheck "
                         "again. DescribeCloudAssistantStatus must report it running.",
    "instance_stopped": "Start the ECS instance: Cloud Assistant runs commands only on a Running instance.",
    "not_found": "Check ecs_instance_id and the instance's region: the ECS instance must exist in the region "
                 "registered for this SQL Server.",
    "denied": "Grant the network items' service role ecs:RunCommand, ecs:DescribeInvocationResults, "
              "ecs:StopInvocation and ecs:DescribeCloudAssistantStatus on the instance (deploy/ram-policy.json).",
    "throttled": "The ECS API throttled the calls: run the precheck again later, or pace the fleet recheck "
                 "(PRECHECK_FC_CONCURRENCY).",
    "host_timeout": "The probe did not finish on the instance within its timeout: check the instance's load, and "
                    "that PowerShell (Windows) or bash (Linux) starts normally.",
    "limit": "Cloud Assistant did not return the probe's result within the item's time limit: raise the instance's "
             "item_timeout_s (30 s by default with an ECS instance named; at most 120).",
    "unsupported": "The probe runs on Windows and Linux instances only; set os_family if Cloud Assistant reports "
                   "another OS.",
    "unreachable": "The function could not reach the ECS API's VPC endpoint (ecs-vpc.<region>.aliyuncs.com): check "
                   "the function's VPC, vSwitch and DNS.",
    "assistant": "Cloud Assistant could not run the probe: see the message, and the invocation in the ECS console "
                 "(Cloud Assistant, command execution results).",
    "output": "The probe's output on the instance is not its result line: see the quoted text (a PowerShell or shell "
              "error on the host), and run the probe script by hand on the instance to see more.",
}


def describe(error: ProbeError, endpoint: Endpoint, bucket: str = "") -> str:
    template = _REASONS.get(error.kind)
    if template is None:
        return f"{endpoint}: {error.message}"
    text = template.format(host=endpoint.host, endpoint=endpoint, bucket=bucket)
    return f"{text} ({error.message})" if error.message else text


def on_instance(ctx: CheckContext) -> bool:
    return bool(ctx.instance.ecs_instance_id)


def probe_instance(ctx: CheckContext, endpoint: Endpoint, bucket: str | None = None) -> ProbeReport | Verdict:
    """The probe's report from the ECS instance, or the ERROR verdict saying why it could not run there."""
    from ..probes import ProbeOutputError, ProbeTarget, parse  # the host's probe only (cold start of the others)

    instance_id = ctx.instance.ecs_instance_id or ""
    details = {"endpoint": str(endpoint), "probed_from": INSTANCE, "ecs_instance_id": instance_id}
    if ctx.probes.assistant is None:
        return Verdict(ItemStatus.ERROR, "this deployment cannot run commands on ECS instances",
                       advice=ASSISTANT_ADVICE["assistant"], details={**details, "reason": "assistant"})
    # each of the probe's three steps (resolve, connect, HEAD) gets a share of what is left; the assistant
    # keeps its own part for delivering the command and reading the result
    remaining = ctx.remaining()
    target = ProbeTarget(endpoint, bucket, step_timeout=max(1.0, min(timeouts.ASSISTANT_STEP_S, remaining / 6)))
    try:
        invocation = ctx.probes.assistant().run_probe(instance_id, ctx.instance.region, ctx.instance.os_family,
                                                             target, remaining)
    except AssistantError as error:
        return Verdict(ItemStatus.ERROR, f"could not probe from ECS instance {instance_id}: {error.message}",
                       advice=assistant_advice(error.kind, ctx),
                       details={**details, "reason": error.kind})
    try:
        return parse(invocation.output)
    except ProbeOutputError as error:
        return Verdict(ItemStatus.ERROR, f"the probe on ECS instance {instance_id} gave no result: {error.reason}",
                       advice=ASSISTANT_ADVICE["output"],
                       details={**details, "reason": "output", "output": error.text, "exit_code": invocation.exit_code,
                                "os_family": invocation.os_family})


def instance_details(endpoint: Endpoint, report: ProbeReport, instance_id: str) -> dict:
    details: dict = {"endpoint": str(endpoint), "probed_from": INSTANCE, "ecs_instance_id": instance_id,
                     "os_family": report.os or None}
    if report.address:
        details["address"] = report.address
    if report.connect_ms is not None:
        details["connect_ms"] = round(report.connect_ms, 1)
    return details


class HostProbe(Frozen):
    """A probe that ran on the ECS instance and did its work: its report, the outcome's details, and where from."""

    __slots__ = ("report", "details", "where")
    report: ProbeReport
    details: dict
    where: str

    def __init__(self, report: ProbeReport, details: dict, where: str) -> None:
        self._init(report=report, details=details, where=where)


def probe_from_instance(ctx: CheckContext, endpoint: Endpoint, bucket: str | None = None) -> HostProbe | Verdict:
    """The probe run on the ECS instance, or the ERROR verdict saying why it could not run there or could not do
    its work (input it refused, an error on the host)."""
    instance_id = ctx.instance.ecs_instance_id or ""
    report = probe_instance(ctx, endpoint, bucket)
    if isinstance(report, Verdict):
        return report
    details = instance_details(endpoint, report, instance_id)
    where = f"from ECS instance {instance_id}"
    if report.result in ("invalid", "error"):
        return Verdict(ItemStatus.ERROR, f"the probe {where} failed: {report.message}",
                       advice=ASSISTANT_ADVICE["output"], details={**details, "reason": report.result})
    return HostProbe(report, details, where)


def report_error(report: ProbeReport) -> ProbeError:
    """A failed report as the ProbeError the function's probes raise (the same words describe both)."""
    return ProbeError(report.result, "" if report.result in _REASONS else report.message)
