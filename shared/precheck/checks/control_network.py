"""SERVICE_CONNECTIVITY: the backup client must reach the backup service's control endpoint."""

from __future__ import annotations

from ..models import ItemStatus
from ..ports import ProbeError
from . import CheckContext, CheckItem, Verdict
from ._network import describe

ADVICE = (
    "No backup or recovery operation on this instance is possible until the control endpoint is reachable. "
    "Check that the VPC resolves hbr-vpc.<region>.aliyuncs.com and that security groups and network ACLs allow "
    "outbound TCP 443 to it."
)


def run(ctx: CheckContext) -> Verdict:
    endpoint = ctx.instance.control()
    try:
        connected = ctx.probes.network().connect(endpoint, timeout=ctx.remaining())
    except ProbeError as error:
        return Verdict(ItemStatus.FAILED, f"control endpoint unreachable: {describe(error, endpoint)}",
                       advice=ADVICE, details={"endpoint": str(endpoint), "reason": error.kind})
    return Verdict(ItemStatus.PASSED, f"{endpoint} accepts connections ({connected.connect_ms:.0f} ms)",
                   details={"endpoint": str(endpoint), "address": connected.address,
                            "connect_ms": round(connected.connect_ms, 1)})


ITEM = CheckItem(name="control_network", code="SERVICE_CONNECTIVITY",
                 title="Backup service control network", order=20, run=run)
