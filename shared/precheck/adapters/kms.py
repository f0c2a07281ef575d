"""KMS secrets: a secret's value by KMS's GetSecretValue (API 2016-01-20), one signed HTTPS request.

Why a plain request and not an SDK: GetSecretValue is one RPC call, and the SDKs cost a cold start more than
this module (alibabacloud_kms20160120 pulls in the Tea runtime; aliyun-python-sdk-kms pulls aliyunsdkcore,
whose vendored `requests` cannot be bounded per call the way `requests` itself is). `requests` is already in
the layer (oss2 needs it) and is imported only when a secret is first read.

- API: https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getsecretvalue
  (parameter SecretName; answer SecretData, SecretDataType `text` or `binary`; a secret of another account is
  named by its ARN `acs:kms:${region}:${account}:secret/${secret-name}`, which is also the RAM resource).
- Signature (RPC style, HMAC-SHA1, version 1.0): https://www.alibabacloud.com/help/doc-detail/127287.htm
  (sorted parameters, percent-encoded with `~` kept and space as %20, StringToSign `GET&%2F&<encoded query>`,
  key `<AccessKeySecret>&`); STS credentials add the SecurityToken parameter.
- Endpoint: `kms-vpc.<region>.aliyuncs.com`, KMS's VPC endpoint in every region (KMS "Endpoints":
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-endpoint),
  reachable from a function bound to a VPC without internet access; PRECHECK_KMS_ENDPOINT overrides it.

Every failure is a `SecretError` whose kind says what to do (kms_not_found, kms_denied, kms_throttled,
kms_unreachable, kms_error) and whose message names the secret (a name, not a value) and KMS's error code,
never KMS's own message or the answer's body, so no secret and no credential can reach a log or a result.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import quote

from ..ports import SecretError
from .credentials import Credentials

API_VERSION = "2016-01-20"
DEFAULT_TIMEOUT_S = 3.0
#: KMS secret names (CreateSecret, SecretName: https://www.alibabacloud.com/help/doc-detail/154490.htm): up to 192
#: characters, letters, digits and `_ / + = . - @`. models.py uses the same rule for `password_ref: kms:<name>`.
SECRET_NAME_PATTERN = r"[A-Za-z0-9_/+=.@-]{1,192}"


def endpoint_for(region: str) -> str:
    return f"https://kms-vpc.{region}.aliyuncs.com"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def signed_query(action: str, parameters: dict[str, str], credentials: Credentials, *,
                 now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """`parameters` with the common parameters and the RPC signature (documented above)."""
    query = {
        "Action": action, "Version": API_VERSION, "Format": "JSON", "AccessKeyId": credentials.access_key_id,
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now)),
        **parameters,
    }
    if credentials.security_token:
        query["SecurityToken"] = credentials.security_token
    canonical = "&".join(f"{_encode(key)}={_encode(query[key])}" for key in sorted(query))
    to_sign = f"GET&{_encode('/')}&{_encode(canonical)}"
    digest = hmac.new(f"{credentials.access_key_secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    query["Signature"] = base64.b64encode(digest).decode()
    return query


class KmsSecrets:
    """Reads secrets' values with the given (the function's) credentials; each call is one bounded request."""

    def __init__(self, credentials: Credentials | None, region: str | None, *, endpoint: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S):
        self._credentials = credentials
        self._endpoint = endpoint or (endpoint_for(region) if region else None)
        self._timeout_s = timeout_s

    def get_secret_value(self, name: str) -> str:
        if self._credentials is None:
            raise SecretError("kms_denied", f"no credentials to read KMS secret {name} (the function's service "
                                            "needs a role)")
        if self._endpoint is None:
            raise SecretError("kms_unreachable", f"no KMS endpoint for secret {name}: the region is unknown "
                                                 "(set PRECHECK_KMS_ENDPOINT or FC_REGION)")
        import requests  # lazily: only a function that reads a KMS secret pays for it

        query = signed_query("GetSecretValue", {"SecretName": name}, self._credentials)
        try:
            answer = requests.get(self._endpoint.rstrip("/") + "/", params=query, timeout=self._timeout_s)
        except requests.Timeout:
            raise SecretError("kms_unreachable", f"KMS did not answer within {self._timeout_s:g} s reading secret "
                                                 f"{name}") from None
        except requests.RequestException as error:
            raise SecretError("kms_unreachable", f"KMS could not be reached reading secret {name} "
                                                 f"({type(error).__name__})") from None
        body = _json(answer.text)
        if answer.status_code == 200 and isinstance(body.get("SecretData"), str):
            return _value(body)
        raise _error(name, answer.status_code, body)


def _json(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _value(body: dict[str, Any]) -> str:
    data = body["SecretData"]
    if body.get("SecretDataType") == "binary":  # stored base64-encoded (GetSecretValue, SecretDataType)
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except ValueError:
            raise SecretError("kms_error", "the KMS secret is binary and not UTF-8 text: store the password as "
                                           "text") from None
    return data


def _error(name: str, status: int, body: dict[str, Any]) -> SecretError:
    """KMS's error code decides; its message is left out (it is KMS's text, not ours to pass on)."""
    code = body.get("Code") if isinstance(body.get("Code"), str) else None
    label = f"{code[:80]}, HTTP {status}" if code else f"HTTP {status}"
    lowered = (code or "").lower()
    if "notfound" in lowered or status == 404:
        return SecretError("kms_not_found", f"KMS secret {name} does not exist in this region ({label})")
    if "throttl" in lowered or status in (429, 503):
        return SecretError("kms_throttled", f"KMS throttled reading secret {name} ({label})")
    if lowered.startswith("forbidden") or "denied" in lowered or "noperm" in lowered or status in (401, 403):
        return SecretError("kms_denied", f"the function's role may not read KMS secret {name} ({label})")
    return SecretError("kms_error", f"KMS failed reading secret {name} ({label})")
