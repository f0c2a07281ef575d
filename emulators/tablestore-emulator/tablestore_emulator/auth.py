"""Request authentication and answer signing, as the service and the SDK do them.

Request (signature V2): ``x-ots-signature = base64(HMAC-SHA1(secret, uri + "\\nPOST\\n" + sorted-query +
"\\n" + sorted "name:value" lines of the x-ots-* headers (not the signature) joined by "\\n" + "\\n"))``.
Signature V4 (SDK given ``region=``): ``x-ots-signaturev4`` is HMAC-SHA256 over the same string + "ots",
keyed with a key derived from the secret, ``x-ots-signdate`` and ``x-ots-signregion``.

Answer: ``Authorization: OTS <akid>:base64(HMAC-SHA1(key, sorted x-ots-* lines joined by "\\n" + "\\n" +
uri))`` with key = the secret (V2) or the derived V4 key. The SDK refuses a 2xx answer without it and
checks it on every non-403 answer that carries it, and on 403s other than OTSAuthFailed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlparse

from .state import OTSError

DEFAULT_ACCESS_KEY_ID = "emulator-akid"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret"
DEFAULT_INSTANCE = "emulator"

HEADER_PREFIX = "x-ots-"
SIGNATURE = "x-ots-signature"
SIGNATURE_V4 = "x-ots-signaturev4"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_CLOCK_SKEW_SECONDS = 15 * 60
REQUIRED_HEADERS = ("x-ots-date", "x-ots-apiversion", "x-ots-accesskeyid", "x-ots-instancename",
                    "x-ots-contentmd5")


def auth_failed(message: str) -> OTSError:
    return OTSError(403, "OTSAuthFailed", message)


def _headers_string(headers: dict[str, str], exclude=()) -> str:
    items = [f"{k.lower()}:{v.strip()}" for k, v in headers.items()
             if k.lower().startswith(HEADER_PREFIX) and k.lower() not in exclude]
    return "\n".join(sorted(items))


def _hmac_b64(key, message: str, digest) -> str:
    if isinstance(key, str):
        key = key.encode("utf-8")
    return base64.b64encode(hmac.new(key, message.encode("utf-8"), digest).digest()).decode("ascii")


def v4_signing_key(secret: str, sign_date: str, region: str) -> bytes:
    key = ("aliyun_v4" + secret).encode("utf-8")
    for part in (sign_date, region, "ots", "aliyun_v4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(key)


def request_string(uri: str, headers: dict[str, str]) -> str:
    parsed = urlparse(uri)
    query = urlencode(sorted(parse_qsl(parsed.query)))
    return (parsed.path + "\n" + "POST" + "\n" + query + "\n"
            + _headers_string(headers, exclude=(SIGNATURE, SIGNATURE_V4)) + "\n")


def now_header() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime(DATE_FORMAT)


@dataclass
class Verified:
    """What the answer needs to be signed for the caller."""

    access_key_id: str
    signing_key: bytes | str


class Authenticator:
    """Checks requests against one access key pair and one instance name."""

    def __init__(self, access_key_id: str, access_key_secret: str, instance: str,
                 sts_token: str | None = None) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.instance = instance
        self.sts_token = sts_token   # None: any token (or none) is accepted

    def verify(self, uri: str, headers: dict[str, str], body: bytes) -> Verified:
        """Raise :class:`OTSError` as the service would; return the answer signing material."""
        headers = {k.lower(): v for k, v in headers.items()}
        for name in REQUIRED_HEADERS:
            if name not in headers:
                raise OTSError(400, "OTSParameterInvalid", f"Missing header: '{name}'.")
        if SIGNATURE not in headers and SIGNATURE_V4 not in headers:
            raise OTSError(400, "OTSParameterInvalid", f"Missing header: '{SIGNATURE}'.")
        if headers["x-ots-accesskeyid"] != self.access_key_id:
            raise auth_failed("The AccessKeyID does not exist.")
        if headers["x-ots-instancename"] != self.instance:
            raise auth_failed("The instance is not found.")
        if self.sts_token is not None and headers.get("x-ots-ststoken") != self.sts_token:
            raise auth_failed("The AccessKeyID does not exist.")
        date = headers["x-ots-date"]
        try:
            sent = datetime.datetime.strptime(date, DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise OTSError(400, "OTSParameterInvalid", f"Invalid date format: {date}.") from None
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - sent).total_seconds())
        if skew > MAX_CLOCK_SKEW_SECONDS:
            raise auth_failed(f"Mismatch between system time and x-ots-date: {date}.")
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode("ascii")
        if headers["x-ots-contentmd5"] != md5:
            raise auth_failed("Mismatch between MD5 value of request body and x-ots-contentmd5 in header.")
        to_sign = request_string(uri, headers)
        if SIGNATURE_V4 in headers:
            sign_date = headers.get("x-ots-signdate", "")
            region = headers.get("x-ots-signregion", "")
            key: bytes | str = v4_signing_key(self.access_key_secret, sign_date, region)
            expected = _hmac_b64(key, to_sign + "ots", hashlib.sha256)
            given = headers[SIGNATURE_V4]
        else:
            key = self.access_key_secret
            expected = _hmac_b64(key, to_sign, hashlib.sha1)
            given = headers[SIGNATURE]
        if not hmac.compare_digest(expected, given):
            raise auth_failed("Signature mismatch.")
        return Verified(access_key_id=self.access_key_id, signing_key=key)


def answer_headers(uri: str, body: bytes, request_id: str, verified: Verified | None) -> dict[str, str]:
    """The x-ots-* headers of an answer, plus ``Authorization`` when the caller was authenticated."""
    headers = {
        "x-ots-contentmd5": base64.b64encode(hashlib.md5(body).digest()).decode("ascii"),
        "x-ots-requestid": request_id,
        "x-ots-contenttype": "protocol buffer",
        "x-ots-date": now_header(),
    }
    if verified is not None:
        to_sign = _headers_string(headers) + "\n" + urlparse(uri).path
        signature = _hmac_b64(verified.signing_key, to_sign, hashlib.sha1)
        headers["Authorization"] = f"OTS {verified.access_key_id}:{signature}"
    return headers
