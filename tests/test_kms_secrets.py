"""KMS secrets (`password_ref: kms:NAME`): KMS's GetSecretValue faked with `responses` at the HTTP level.

Each failure KMS can answer (no such secret, access denied, throttled, a timeout, an unreadable answer) is an
ERROR outcome of the SQL item with its own advice: no traceback, and neither the secret nor the credentials
anywhere in it. A secret is read once per invocation and again by the next one.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from aliyunsdkcore.auth.composer import rpc_signature_composer

from precheck import runner, wiring
from precheck.adapters.credentials import Credentials
from precheck.adapters.kms import KmsSecrets, signed_query
from precheck.checks import recovery_mode
from precheck.models import CheckRequest, Instance, ItemStatus
from precheck.ports import SecretError
from precheck.settings import Settings

ENDPOINT = "https://kms-vpc.cn-hangzhou.aliyuncs.com/"
SECRET = "Canary-KMS-Pa55word!"
KEY = Credentials("STS.test-key-id", "sts-test-key-secret-canary", "sts-test-token-canary")


def _kms(status: int, body: dict | str) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    responses.add(responses.GET, ENDPOINT, body=text, status=status, content_type="application/json")


def _ok(name: str = "precheck/erp-prod") -> None:
    _kms(200, {"SecretName": name, "SecretData": SECRET, "SecretDataType": "text", "VersionId": "v1",
               "RequestId": "r-1"})


FAILURES = [
    # (status, KMS error code, our kind): codes as KMS's API documents them for GetSecretValue
    (404, "Forbidden.ResourceNotFound", "kms_not_found"),
    (403, "Forbidden.NoPermission", "kms_denied"),
    (403, "Forbidden.RAM", "kms_denied"),
    (400, "Rejected.Throttling", "kms_throttled"),
    (503, "ServiceUnavailable", "kms_throttled"),
    (500, "InternalFailure", "kms_error"),
]


def test_the_signature_is_the_one_alibaba_clouds_own_sdk_computes():
    query = signed_query("GetSecretValue", {"SecretName": "precheck/a+b=c@d.e_f-g"}, KEY, now=0, nonce="n-1")
    signature = query.pop("Signature")
    to_sign = getattr(rpc_signature_composer, "__compose_string_to_sign")("GET", query)
    expected = getattr(rpc_signature_composer, "__get_signature")(to_sign, KEY.access_key_secret)
    assert signature == expected
    assert query["SecurityToken"] == KEY.security_token and query["Version"] == "2016-01-20"


@responses.activate
def test_a_secret_is_read_with_the_functions_credentials():
    _ok()
    assert KmsSecrets(KEY, "cn-hangzhou").get_secret_value("precheck/erp-prod") == SECRET
    sent = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert sent["Action"] == ["GetSecretValue"] and sent["SecretName"] == ["precheck/erp-prod"]
    assert sent["AccessKeyId"] == [KEY.access_key_id] and sent["SecurityToken"] == [KEY.security_token]


@responses.activate
def test_a_binary_secret_is_decoded():
    _kms(200, {"SecretData": base64.b64encode(SECRET.encode()).decode(), "SecretDataType": "binary"})
    assert KmsSecrets(KEY, "cn-hangzhou").get_secret_value("precheck/x") == SECRET


@pytest.mark.parametrize(("status", "code", "kind"), FAILURES)
@responses.activate
def test_each_kms_failure_is_a_secret_error_naming_the_secret_and_code(status, code, kind):
    _kms(status, {"Code": code, "Message": f"details quoting {SECRET}", "RequestId": "r-2"})
    with pytest.raises(SecretError) as raised:
        KmsSecrets(KEY, "cn-hangzhou").get_secret_value("precheck/erp-prod")
    assert raised.value.kind == kind
    assert "precheck/erp-prod" in raised.value.message and code in raised.value.message
    assert SECRET not in raised.value.message  # KMS's own message is never passed on


@responses.activate
def test_a_timeout_and_a_refused_connection_are_unreachable():
    responses.add(responses.GET, ENDPOINT, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.add(responses.GET, ENDPOINT, body=requests.exceptions.ConnectionError("refused"))
    for _ in range(2):
        with pytest.raises(SecretError) as raised:
            KmsSecrets(KEY, "cn-hangzhou", timeout_s=0.5).get_secret_value("precheck/erp-prod")
        assert raised.value.kind == "kms_unreachable"


@responses.activate
def test_a_garbled_answer_is_an_error_not_a_traceback():
    _kms(200, "<html>proxy error</html>")
    with pytest.raises(SecretError) as raised:
        KmsSecrets(KEY, "cn-hangzhou").get_secret_value("precheck/erp-prod")
    assert raised.value.kind == "kms_error"


# --- through the SQL item, as the check function runs it -----------------------------------------------------


def _request(ref: str = "kms:precheck/erp-prod") -> CheckRequest:
    instance = Instance(instance_id="erp-prod", region="cn-hangzhou", server="127.0.0.1,1", user="backup",
                        password_ref=ref, item_timeout_s=5)
    return CheckRequest(run_id="0000000000001-abcd1234", instance=instance, item=recovery_mode.ITEM.name,
                        deadline=4e9)


class _Connector:
    """A SQL connector that records the password it was given and refuses the login."""

    def __init__(self):
        self.passwords: list[str] = []

    def connect(self, target, user, password, timeout):
        from precheck.ports import PrecheckError

        self.passwords.append(password)
        raise PrecheckError("login", "Login failed for user 'backup'")


def _probes(connector: _Connector):
    settings = Settings.from_environ({"PRECHECK_KMS_REGION": "cn-hangzhou"})
    real = wiring.make_probes(settings, lambda: KEY)
    return type(real)(network=real.network, oss=real.oss, sql=lambda: connector, secrets=real.secrets)


@responses.activate
def test_the_sql_item_logs_in_with_the_kms_secret_read_once_per_invocation():
    _ok()
    connector = _Connector()
    probes = _probes(connector)
    first = runner.run_check(recovery_mode.ITEM, _request(), probes)
    assert connector.passwords == [SECRET] and len(responses.calls) == 1
    assert first.status is ItemStatus.ERROR and first.details["reason"] == "login"
    within = probes.for_invocation()  # the invocation's one resolver: a second read is the cached value
    assert within.secrets().resolve("kms:precheck/erp-prod") == SECRET
    assert within.secrets().resolve("kms:precheck/erp-prod") == SECRET
    assert len(responses.calls) == 2  # once for the run_check above, once for this invocation
    runner.run_check(recovery_mode.ITEM, _request(), probes)  # the next invocation reads it again
    assert len(responses.calls) == 3


@pytest.mark.parametrize(("status", "code", "kind"), FAILURES)
@responses.activate
def test_each_kms_failure_is_an_error_outcome_with_advice_and_no_secret(status, code, kind, caplog):
    _kms(status, {"Code": code, "Message": f"details quoting {SECRET}"})
    connector = _Connector()
    with caplog.at_level("DEBUG"):
        outcome = runner.run_check(recovery_mode.ITEM, _request(), _probes(connector))
    assert outcome.status is ItemStatus.ERROR and outcome.details["reason"] == kind
    assert "precheck/erp-prod" in outcome.message and outcome.advice
    assert "Traceback" not in outcome.model_dump_json() and connector.passwords == []
    for text in (outcome.model_dump_json(), caplog.text):
        for secret in (SECRET, KEY.access_key_secret, KEY.security_token):
            assert secret not in text
