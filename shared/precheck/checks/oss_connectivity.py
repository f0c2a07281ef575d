"""OSS_INTERNAL_ENDPOINT_CONNECTIVITY: backups are written to OSS through the region's internal endpoint."""

from __future__ import annotations

from ..models import ItemStatus
from ..ports import ProbeError
from . import CheckContext, CheckItem, Verdict
from ._network import describe

ADVICE = (
    "Backup and recovery cannot run without OSS. Check that the instance's VPC resolves "
    "oss-<region>-internal.aliyuncs.com (PrivateZone/DNS settings), that security groups and network ACLs "
    "allow outbound TCP 443 to it, and, for a named bucket, that the bucket exists in this region and the "
    "backup role may read it (oss:GetBucketInfo)."
)


def run(ctx: CheckContext) -> Verdict:
    endpoint = ctx.instance.oss()
    try:
        connected = ctx.probes.network().connect(endpoint, timeout=ctx.remaining())
    except ProbeError as error:
        return Verdict(ItemStatus.FAILED, f"OSS endpoint unreachable: {describe(error, endpoint)}", advice=ADVICE,
                       details={"endpoint": str(endpoint), "reason": error.kind})
    details = {"endpoint": str(endpoint), "address": connected.address, "connect_ms": round(connected.connect_ms, 1)}
    bucket = ctx.instance.bucket
    if not bucket:
        return Verdict(ItemStatus.PASSED,
                       f"{endpoint} accepts connections ({connected.connect_ms:.0f} ms); no backup bucket named, "
                       "bucket access not checked", details=details)
    try:
        info = ctx.probes.oss().bucket_info(endpoint, bucket, timeout=ctx.remaining())
    except ProbeError as error:
        details["reason"] = error.kind
        return Verdict(ItemStatus.FAILED, f"OSS bucket check failed: {describe(error, endpoint, bucket)}",
                       advice=ADVICE, details=details)
    details["bucket"] = {key: value for key, value in info.items() if key in ("location", "storage_class")}
    return Verdict(ItemStatus.PASSED,
                   f"{endpoint} accepts connections ({connected.connect_ms:.0f} ms); bucket {bucket} is readable",
                   details=details)


ITEM = CheckItem(name="oss_connectivity", code="OSS_INTERNAL_ENDPOINT_CONNECTIVITY",
                 title="OSS internal endpoint connectivity", order=10, run=run)
