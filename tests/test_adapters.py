"""Adapters against real sockets, the real FreeTDS driver, and OSS's HTTP API faked by `responses`."""

from __future__ import annotations

import socket
import time

import oss2
import pytest
import requests
import responses

from precheck.adapters.credentials import Credentials
from precheck.adapters.network import SocketNetworkProbe
from precheck.adapters.odbc import connection_string
from precheck.adapters.oss import Oss2BucketProbe
from precheck.adapters.secrets import EnvSecretResolver
from precheck.adapters.sqlserver import PyodbcConnector, classify
from precheck.models import Endpoint
from precheck.ports import ProbeError, SecretError, SqlError
from precheck.sqltarget import SqlTarget
from tests.helpers import FullBacklog, closed_port


def ep(text: str) -> Endpoint:
    return Endpoint.parse(text, default_port=443)


# --- network ----------------------------------------------------------------------------------------------


def test_connect_to_an_open_port_measures_the_connect_time(listener):
    """An accepting port connects, and the connect time is measured."""
    connected = SocketNetworkProbe().connect(ep(listener.endpoint), timeout=2)
    assert connected.address == listener.endpoint
    assert 0 <= connected.connect_ms < 1000


def test_connect_to_a_closed_port_is_refused():
    """A closed port is reported as refused, at once."""
    with pytest.raises(ProbeError) as error:
        SocketNetworkProbe().connect(ep(f"127.0.0.1:{closed_port()}"), timeout=2)
    assert error.value.kind == "refused"


def test_connect_that_gets_no_answer_times_out_within_the_limit():
    """A port that never completes the handshake times out at the limit, not later."""
    backlog = FullBacklog()
    try:
        started = time.monotonic()
        with pytest.raises(ProbeError) as error:
            SocketNetworkProbe().connect(ep(backlog.endpoint), timeout=0.5)
        assert error.value.kind == "timeout"
        assert time.monotonic() - started < 0.5 * 10  # a guard against a hang, ten times the limit
    finally:
        backlog.close()


def test_a_name_that_does_not_resolve_is_a_dns_failure():
    """A resolver error is reported as a DNS failure."""

    def no_such_host(host, port, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ProbeError) as error:
        SocketNetworkProbe(no_such_host).connect(ep("oss-xx-internal.aliyuncs.com"), timeout=1)
    assert (error.value.kind, error.value.message) == ("dns", "Name or service not known")


def test_a_resolver_that_hangs_is_abandoned_at_the_limit():
    """Name resolution has no timeout of its own; the probe gives up on it at the limit."""

    def hanging(host, port, **kwargs):
        time.sleep(5)

    started = time.monotonic()
    with pytest.raises(ProbeError) as error:
        SocketNetworkProbe(hanging).connect(ep("slow.example"), timeout=0.3)
    assert error.value.kind == "timeout"
    assert time.monotonic() - started < 0.3 * 10  # a guard: the resolver would take 5 s


# --- SQL Server through pyodbc + FreeTDS -----------------------------------------------------------------


def test_connection_string_pins_tds_and_puts_the_password_last_in_braces():
    """TDS 7.4 is pinned; the password goes last, raw in braces (FreeTDS does not undo a doubled brace)."""
    text = connection_string(SqlTarget.at("db", 1433, encrypt="off"), 1433, "u", "p;w}d=x", "FreeTDS").text
    assert "TDS_Version=7.4" in text
    assert text.startswith("DRIVER={FreeTDS};") and text.endswith(";PWD={p;w}d=x};")


def test_a_password_that_could_add_attributes_is_refused_not_spliced():
    """A value holding '};' would end its braces and inject attributes: it is refused with a clear reason."""
    with pytest.raises(SqlError) as error:
        connection_string(SqlTarget.at("db", 1433), 1433, "u", "x};DRIVER={Evil}", "FreeTDS")
    assert error.value.kind == "config" and "x};DRIVER" not in error.value.message


def test_sql_connect_to_a_closed_port_is_refused_through_freetds():
    """The real driver's refusal is classified as refused."""
    with pytest.raises(SqlError) as error:
        PyodbcConnector().connect(SqlTarget.at("127.0.0.1", closed_port()), "sa", "pw", timeout=3)
    assert error.value.kind == "refused"


def test_sql_connect_to_a_silent_server_times_out_within_the_limit(silent_listener):
    """A server that accepts and never answers fails with a timeout at the limit (TDS version pinned)."""
    started = time.monotonic()
    with pytest.raises(SqlError) as error:
        PyodbcConnector().connect(SqlTarget.at("127.0.0.1", silent_listener.port), "sa", "pw", timeout=2)
    assert error.value.kind == "timeout"
    assert time.monotonic() - started < 2 * 10  # a guard against a hang, ten times the limit


def test_login_failure_is_classified_by_native_error_and_never_shows_the_password():
    """18456 arrives with SQLSTATE 42000; it is still a login failure, and the password is never shown."""
    import pyodbc

    error = pyodbc.ProgrammingError("42000", "[42000] [FreeTDS][SQL Server]Login failed for user 'backup'. (18456)")
    result = classify(error, "backup", "pw")
    assert (result.kind, result.message) == ("login", "login failed for user 'backup'")
    leaked = classify(pyodbc.Error("HY000", "[HY000] oops with Secret-1 inside"), "u", "Secret-1")
    assert "Secret-1" not in leaked.message


# --- OSS -------------------------------------------------------------------------------------------------

BUCKET_INFO = """<?xml version="1.0" encoding="UTF-8"?>
<BucketInfo><Bucket><CreationDate>2024-01-01T00:00:00.000Z</CreationDate>
<ExtranetEndpoint>oss-cn-hangzhou.aliyuncs.com</ExtranetEndpoint>
<IntranetEndpoint>oss-cn-hangzhou-internal.aliyuncs.com</IntranetEndpoint>
<Location>oss-cn-hangzhou</Location><Name>erp-backups</Name><StorageClass>Standard</StorageClass>
<Owner><DisplayName>1</DisplayName><ID>1</ID></Owner><AccessControlList><Grant>private</Grant></AccessControlList>
</Bucket></BucketInfo>"""

OSS_URL = "https://erp-backups.oss-cn-hangzhou-internal.aliyuncs.com/?bucketInfo"


def oss_error(code: str, status: int) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>m</Message>'
            f"<RequestId>1</RequestId><HostId>h</HostId><BucketName>erp-backups</BucketName></Error>")


def probe_bucket(creds=Credentials("ak", "sk", "token")):
    return Oss2BucketProbe(creds).bucket_info(ep("oss-cn-hangzhou-internal.aliyuncs.com"), "erp-backups", timeout=2)


@responses.activate
def test_bucket_info_is_read_with_sts_credentials():
    """The bucket's info is read with the function's STS token and its location returned."""
    responses.get(OSS_URL, body=BUCKET_INFO, status=200, content_type="application/xml")
    assert probe_bucket() == {"location": "oss-cn-hangzhou", "storage_class": "Standard"}
    assert responses.calls[0].request.headers["x-oss-security-token"] == "token"


@responses.activate
@pytest.mark.parametrize("code, status, kind", [("NoSuchBucket", 404, "no_such_bucket"),
                                                ("AccessDenied", 403, "access_denied"),
                                                ("InternalError", 500, "oss")])
def test_bucket_errors_are_told_apart(code, status, kind):
    """No such bucket, access denied and other service errors are different kinds."""
    responses.get(OSS_URL, body=oss_error(code, status), status=status, content_type="application/xml",
                  headers={"x-oss-request-id": "1"})
    with pytest.raises(ProbeError) as error:
        probe_bucket()
    assert error.value.kind == kind


@responses.activate
@pytest.mark.parametrize("exception, kind", [(requests.exceptions.SSLError("bad cert"), "tls"),
                                             (requests.exceptions.ConnectTimeout("slow"), "timeout"),
                                             (requests.exceptions.ConnectionError("Connection refused"), "refused")])
def test_bucket_transport_failures_are_told_apart(exception, kind):
    """TLS failure, timeout and refusal on the way to OSS are different kinds."""
    responses.get(OSS_URL, body=exception)
    with pytest.raises(ProbeError) as error:
        probe_bucket()
    assert error.value.kind == kind


def test_the_bucket_request_is_bounded_by_the_item_time(monkeypatch):
    """oss2 gets the remaining item time as its timeout."""
    seen = {}

    def fake_get_bucket_info(self):
        seen["timeout"] = self.timeout
        raise oss2.exceptions.NoSuchBucket(404, {}, b"", {})

    monkeypatch.setattr(oss2.Bucket, "get_bucket_info", fake_get_bucket_info)
    with pytest.raises(ProbeError):
        Oss2BucketProbe(None).bucket_info(ep("127.0.0.1:1"), "erp-backups", timeout=1.5)
    assert seen["timeout"] == 1.5


# --- credentials and secrets -------------------------------------------------------------------------------


def test_credentials_come_from_the_fc_context_and_hide_the_secret():
    """STS credentials are read from FC's context and their secret is not in their repr."""
    from types import SimpleNamespace

    context = SimpleNamespace(credentials=SimpleNamespace(access_key_id="STS.id", access_key_secret="very-secret",
                                                          security_token="tok"))
    creds = Credentials.from_context(context)
    assert (creds.access_key_id, creds.security_token) == ("STS.id", "tok")
    assert "very-secret" not in repr(creds)


def test_env_secret_resolver_reads_the_named_variable_only():
    """env:NAME resolves to the variable's value; other schemes and unset variables are clear errors."""
    resolver = EnvSecretResolver({"SQL_PW": "pw"})
    assert resolver.resolve("env:SQL_PW") == "pw"
    with pytest.raises(SecretError, match="SQL_OTHER is not set"):
        resolver.resolve("env:SQL_OTHER")
    with pytest.raises(SecretError, match="unsupported"):
        resolver.resolve("vault:x")


def test_a_host_label_longer_than_dns_allows_is_a_dns_failure_at_once():
    """A name with a 64-character label is refused by the resolver as a DNS failure, not reported as a timeout
    after the whole time limit (the IDNA codec used to raise it inside the resolving thread)."""
    with pytest.raises(ProbeError) as caught:
        SocketNetworkProbe().connect(Endpoint(host="a" * 64 + ".invalid", port=443), timeout=3.0)
    assert caught.value.kind == "dns"  # it was "timeout": the codec's error died with the resolving thread


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "::1", "0:0::1", "::ffff:1.2.3.4", "2001:db8::1"])
def test_an_ip_address_is_taken_as_it_is_without_a_lookup_thread(host, monkeypatch):
    """An address written out needs no lookup: it is answered at once, as getaddrinfo answers it, with no thread
    and without calling the resolver (issue 16: a thread per probe and per login)."""
    from precheck.adapters import network

    started: list[str] = []
    real_thread = network.threading.Thread

    def thread(*args, **kwargs):
        started.append(kwargs.get("name"))
        return real_thread(*args, **kwargs)

    monkeypatch.setattr(network.threading, "Thread", thread)

    def refused(*args, **kwargs):
        raise AssertionError("an address is not looked up")

    assert network.resolve(host, 1433, 1.0, refused) == socket.getaddrinfo(host, 1433, type=socket.SOCK_STREAM)[:1]
    assert started == []
    # a name, and a form only the resolver reads, still go to the resolver (in its thread)
    for name in ("db.example", "127.1"):
        assert network.resolve(name, 1433, 1.0, lambda *a, **k: [("found",)]) == [("found",)]
    assert started == ["resolve", "resolve"]
