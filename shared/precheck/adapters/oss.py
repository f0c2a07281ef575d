"""Reads a bucket's info with oss2, one request, bounded by the item's remaining time, no retries."""

from __future__ import annotations

from typing import Any

import oss2

from ..models import Endpoint
from ..ports import ProbeError
from .credentials import Credentials
from .neterrors import REASONS, classify


class Oss2BucketProbe:
    def __init__(self, credentials: Credentials | None = None, session: oss2.Session | None = None):
        self._credentials = credentials
        self._session = session

    def _auth(self):
        creds = self._credentials
        if creds is None:
            return oss2.AnonymousAuth()
        if creds.security_token:
            return oss2.StsAuth(creds.access_key_id, creds.access_key_secret, creds.security_token)
        return oss2.Auth(creds.access_key_id, creds.access_key_secret)

    def bucket_info(self, endpoint: Endpoint, bucket: str, timeout: float) -> dict[str, Any]:
        if timeout <= 0:
            raise ProbeError("timeout", "no time left for the bucket check")
        client = oss2.Bucket(self._auth(), endpoint.url, bucket, connect_timeout=timeout, session=self._session)
        try:
            info = client.get_bucket_info()
        except oss2.exceptions.NoSuchBucket:
            raise ProbeError("no_such_bucket", "") from None
        except oss2.exceptions.AccessDenied as error:
            raise ProbeError("access_denied", error.message or "") from None
        except oss2.exceptions.RequestError as error:
            raise _transport_error(error.exception) from None
        except oss2.exceptions.OssError as error:
            raise ProbeError("oss", f"HTTP {error.status} {error.code or ''} {error.message or ''}".strip()) from None
        return {"location": getattr(info, "location", None), "storage_class": getattr(info, "storage_class", None)}


def _transport_error(error: Exception) -> ProbeError:
    failure = classify(error)
    # the check words each known kind itself ("TLS handshake with ... failed"): only "network" needs the reason
    return ProbeError(failure.kind, "" if failure.kind in REASONS else failure.reason)
