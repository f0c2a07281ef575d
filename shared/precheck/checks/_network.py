"""What the two network items say about a failed connection, in words an administrator can act on."""

from __future__ import annotations

from ..models import Endpoint
from ..ports import ProbeError

_REASONS = {
    "dns": "cannot resolve {host}",
    "refused": "{endpoint} refused the connection",
    "timeout": "{endpoint} did not accept a connection within the time limit",
    "unreachable": "no route to {endpoint}",
    "tls": "TLS handshake with {endpoint} failed",
    "access_denied": "access denied to bucket {bucket}",
    "no_such_bucket": "bucket {bucket} does not exist",
}


def describe(error: ProbeError, endpoint: Endpoint, bucket: str = "") -> str:
    template = _REASONS.get(error.kind)
    if template is None:
        return f"{endpoint}: {error.message}"
    text = template.format(host=endpoint.host, endpoint=endpoint, bucket=bucket)
    return f"{text} ({error.message})" if error.message else text
