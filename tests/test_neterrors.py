"""One classification of network errors for every HTTP adapter (Function Compute, OSS, Tablestore)."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest
import requests
import urllib3

from precheck.adapters.neterrors import REASONS, classify
from tests.helpers import Listener, closed_port


def wrapped(outer: type[Exception], inner: BaseException, text: str = "failed") -> Exception:
    """`outer` raised while handling `inner`, as the libraries raise theirs."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer(text)
    except Exception as error:
        return error


@pytest.mark.parametrize("error, kind", [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "refused"),
    (TimeoutError("timed out"), "timeout"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
    (requests.exceptions.SSLError("bad cert"), "tls"),
    (requests.exceptions.ConnectTimeout("slow"), "timeout"),
    (requests.exceptions.ReadTimeout("slow"), "timeout"),
    (requests.exceptions.ConnectionError("Connection refused"), "refused"),
    (urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out."), "timeout"),
    (wrapped(urllib3.exceptions.NewConnectionError, ConnectionRefusedError(errno.ECONNREFUSED, "refused")),
     "refused"),
    (wrapped(urllib3.exceptions.ProtocolError, socket.gaierror(socket.EAI_NONAME, "unknown")), "dns"),
    (urllib3.exceptions.ProtocolError("Connection aborted."), "network"),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "network"),
])
def test_each_failure_has_its_kind(error, kind):
    """Socket, urllib3 and requests errors, bare or wrapped, are told apart by type first, then by text."""
    failure = classify(error)
    assert failure.kind == kind
    assert failure.reason == REASONS.get(kind, type(error).__name__)


def test_a_refused_connection_through_requests_and_urllib3_is_refused():
    """The errors the libraries really raise for a closed port (wrapped two or three deep) read "refused"."""
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(requests.exceptions.ConnectionError) as through_requests:
        requests.get(url, timeout=2)
    with pytest.raises(urllib3.exceptions.HTTPError) as through_urllib3:
        urllib3.PoolManager(retries=False).request("GET", url, timeout=2)
    for raised in (through_requests.value, through_urllib3.value):
        assert classify(raised) == ("refused", "connection refused")


def test_a_silent_endpoint_is_a_timeout():
    """No answer within the read timeout is a timeout, whichever library waited."""
    silent = Listener(silent=True)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout) as raised:
            requests.get(f"http://{silent.endpoint}/", timeout=0.3)
    finally:
        silent.close()
    assert classify(raised.value).kind == "timeout"
