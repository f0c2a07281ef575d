"""Domain models: what an instance may be registered with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from precheck.models import Endpoint, ItemStatus, new_run_id
from precheck.sqltarget import parse_server_name
from tests.fakes import instance


@pytest.mark.parametrize("text, host, port, scheme", [
    ("oss-cn-hangzhou-internal.aliyuncs.com", "oss-cn-hangzhou-internal.aliyuncs.com", 443, "https"),
    ("127.0.0.1:9000", "127.0.0.1", 9000, "https"),
    ("http://127.0.0.1:9000", "127.0.0.1", 9000, "http"),
    ("[::1]:8443", "::1", 8443, "https"),
])
def test_endpoint_parses_host_and_optional_port(text, host, port, scheme):
    """Endpoints are host[:port] with an optional scheme; IPv6 hosts go in brackets."""
    endpoint = Endpoint.parse(text, default_port=443)
    assert (endpoint.host, endpoint.port, endpoint.scheme) == (host, port, scheme)


@pytest.mark.parametrize("text", ["", "host:0", "host:70000", "a b", "host:port", "ftp://x", "x;rm -rf"])
def test_endpoint_rejects_what_is_not_host_port(text):
    """Anything that is not host[:port] is refused with a ValueError."""
    with pytest.raises(ValueError):
        Endpoint.parse(text, default_port=443)


def test_sql_server_uses_its_own_comma_port_notation():
    """SQL Server's HOST,PORT notation is understood and 1433 is the default port."""
    assert (parse_server_name("db.local,14330").host, parse_server_name("db.local,14330").port) == ("db.local", 14330)
    assert parse_server_name("db.local").tcp_port == 1433


@pytest.mark.parametrize("field, value", [
    ("instance_id", "has space"),
    ("instance_id", "x" * 65),
    ("password_ref", "hunter2"),
    ("password_ref", "vault:secret"),
    ("password_ref", "kms:"),  # KMS secret names: 1-192 of letters, digits and _/+=.@- (CreateSecret, SecretName)
    ("password_ref", "kms:has space"),
    ("password_ref", "kms:" + "x" * 193),
    ("password_ref", "kms:pw;drop"),
    ("region", "CN HANGZHOU"),
    ("item_timeout_s", 0),
    ("item_timeout_s", 1000),
    ("server", "bad host,notaport"),
])
def test_instance_rejects_bad_fields(field, value):
    """Bad ids, a password where a reference belongs, and out-of-range limits are refused."""
    with pytest.raises(ValidationError):
        instance(**{field: value})


def test_instance_refuses_unknown_fields_such_as_a_password():
    """A password field is not part of an instance at all."""
    with pytest.raises(ValidationError):
        instance(password="hunter2")


def test_run_ids_sort_by_time():
    """Run ids are time-ordered, so the latest run sorts last."""
    assert new_run_id(1000.0) < new_run_id(1000.001) < new_run_id(2000.0)


def test_statuses_order_by_severity():
    """FAILED is the worst status, PASSED the best, and only PENDING is not terminal."""
    assert max(ItemStatus, key=lambda s: s.severity) is ItemStatus.FAILED
    assert [s for s in ItemStatus if not s.terminal] == [ItemStatus.PENDING]
