"""The network probe the two network items run on the ECS instance: its scripts, how their inputs travel, and
the one JSON line they print (docs/cloud-assistant.md).

`probe.sh` (Linux, bash) and `probe.ps1` (Windows PowerShell) are package data: read-only, they install
nothing. Their inputs are environment variables. The local assistant sets them for a `bash probe.sh` child;
Cloud Assistant runs one text, so `command()` puts in front of the script a preamble that sets them from Base64
literals (the Base64 alphabet cannot close a quote), so an endpoint or bucket name is data, never code, even
though both are validated before they get here. `parse()` reads what the script printed: exactly one line
`{"probe": "precheck-network", ...}`; anything else is a `ProbeOutputError` carrying the text, bounded.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from ..frozen import Frozen
from ..models import Endpoint

LINUX = "linux"
WINDOWS = "windows"
SCRIPTS = {LINUX: "probe.sh", WINDOWS: "probe.ps1"}
#: Cloud Assistant's command types (ECS RunCommand, `Type`)
COMMAND_TYPES = {LINUX: "RunShellScript", WINDOWS: "RunPowerShellScript"}
#: what the script reports: a connection (and a bucket) that answered, or why not
RESULTS = {"ok", "dns", "timeout", "refused", "unreachable", "network", "tls", "no_such_bucket", "oss", "invalid",
           "error"}
STAGES = {"input", "resolve", "connect", "bucket", "script"}
#: how much of unexpected output an outcome quotes
MAX_QUOTED = 300


class ProbeOutputError(Exception):
    """The probe printed something other than its one JSON line; `text` is what it printed, bounded."""

    def __init__(self, reason: str, text: str):
        super().__init__(reason)
        self.reason = reason
        self.text = quote(text)


# ProbeTarget and ProbeReport are written by hand (precheck.frozen), as the frozen dataclasses they were:
# generating a dataclass costs 0.3-0.5 ms a class on a check function's cold start (issue 16)
class ProbeTarget(Frozen):
    """What to probe: an endpoint, and for OSS the bucket to HEAD; `step_timeout` bounds each step (seconds)."""

    __slots__ = ("endpoint", "bucket", "step_timeout")
    endpoint: Endpoint
    bucket: str | None
    step_timeout: float

    def __init__(self, endpoint: Endpoint, bucket: str | None = None, step_timeout: float = 3.0):
        self._init(endpoint=endpoint, bucket=bucket, step_timeout=step_timeout)

    def environment(self) -> dict[str, str]:
        return {"PROBE_HOST": self.endpoint.host, "PROBE_PORT": str(self.endpoint.port),
                "PROBE_SCHEME": self.endpoint.scheme, "PROBE_BUCKET": self.bucket or "",
                "PROBE_TIMEOUT": f"{max(0.1, min(self.step_timeout, 999.0)):.1f}"}


class ProbeReport(Frozen):
    """The probe's line, read: `result` is "ok" or a failure kind, `stage` where it stopped."""

    __slots__ = ("result", "stage", "address", "connect_ms", "bucket_status", "message", "os")
    result: str
    stage: str
    address: str
    connect_ms: float | None
    bucket_status: int | None
    message: str
    os: str

    def __init__(self, result: str, stage: str, address: str, connect_ms: float | None, bucket_status: int | None,
                 message: str, os: str):
        self._init(result=result, stage=stage, address=address, connect_ms=connect_ms, bucket_status=bucket_status,
                   message=message, os=os)


def script(os_family: str) -> str:
    """The probe script for `os_family` (linux or windows), as shipped in the package."""
    return (Path(__file__).parent / SCRIPTS[os_family]).read_text(encoding="utf-8")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def command(os_family: str, target: ProbeTarget) -> str:
    """The text Cloud Assistant runs: a preamble setting the inputs from Base64 literals, then the script."""
    if os_family == WINDOWS:
        lines = [f"$env:{name} = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{_b64(value)}'))"
                 for name, value in target.environment().items()]
    else:
        lines = [f"export {name}=\"$(printf '%s' '{_b64(value)}' | base64 -d)\""
                 for name, value in target.environment().items()]
    return "\n".join(lines) + "\n" + script(os_family)


def quote(text: str) -> str:
    """`text` cut to MAX_QUOTED characters, control characters shown as spaces."""
    cleaned = "".join(" " if ord(char) < 32 else char for char in text.strip())
    return cleaned if len(cleaned) <= MAX_QUOTED else cleaned[:MAX_QUOTED] + "…"


def parse(output: str) -> ProbeReport:
    """The probe's report from what it printed; `ProbeOutputError` for anything else."""
    found: list[dict[str, Any]] = []
    for line in output.splitlines():
        line = line.strip().lstrip("\ufeff")  # Windows PowerShell may write a byte-order mark first
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("probe") == "precheck-network":
            found.append(value)
    if len(found) != 1:
        reason = "the probe printed no result line" if not found else "the probe printed more than one result line"
        raise ProbeOutputError(reason, output)
    return _report(found[0], output)


def _report(line: dict[str, Any], output: str) -> ProbeReport:
    result, stage = line.get("result"), line.get("stage")
    connect_ms, bucket_status = line.get("connect_ms"), line.get("bucket_status")
    fields_ok = (
        line.get("version") == 1 and result in RESULTS and stage in STAGES
        and isinstance(line.get("address", ""), str) and isinstance(line.get("message", ""), str)
        and (connect_ms is None or (isinstance(connect_ms, (int, float)) and not isinstance(connect_ms, bool)
                                    and 0 <= connect_ms < 1e7))
        and (bucket_status is None or (isinstance(bucket_status, int) and not isinstance(bucket_status, bool)
                                       and 0 <= bucket_status < 1000))
    )
    if not fields_ok:
        raise ProbeOutputError("the probe's result line is not one this version reads", output)
    return ProbeReport(result=str(result), stage=str(stage), address=quote(line.get("address", "")),
                       connect_ms=float(connect_ms) if connect_ms is not None else None,
                       bucket_status=bucket_status, message=quote(line.get("message", "")),
                       os=str(line.get("os", "")))
