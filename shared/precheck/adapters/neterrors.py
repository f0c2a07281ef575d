"""What went wrong on the way to a service: one classification of network errors for every HTTP adapter.

`classify(error)` reads an exception raised by requests, urllib3, http.client or the socket layer (as
raised, or wrapped by one of them: requests wraps urllib3, which wraps the socket error) and answers a short
kind and a reason a person can read:

  dns          the endpoint's name does not resolve
  refused      nothing listens at the address (connection refused)
  timeout      no connection, or no answer, in time
  tls          the TLS handshake failed (certificate, protocol)
  unreachable  no route to the address
  network      anything else (the reason is the exception's type)

Exception types decide where they can; the message text only where a library gives nothing else
(`requests.exceptions.ConnectionError("Connection refused")`). Neither requests nor urllib3 is imported
here: an error of theirs can only exist once they are loaded, so their classes are looked up in
`sys.modules`.
"""

from __future__ import annotations

import errno
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from typing import NamedTuple

KINDS = ("dns", "refused", "timeout", "tls", "unreachable", "network")

REASONS = {
    "dns": "the endpoint name does not resolve",
    "refused": "connection refused",
    "timeout": "timed out",
    "tls": "TLS handshake failed",
    "unreachable": "no route to the endpoint",
}

_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})


class NetworkFailure(NamedTuple):
    kind: str  # one of KINDS
    reason: str  # for a person: "connection refused", "the endpoint name does not resolve", ...


def classify(error: BaseException) -> NetworkFailure:
    """The kind of network failure `error` is, and why; `network` (with the type's name) when unknown."""
    chain = list(_chain(error))
    for kind, by_type, by_text in _RULES:  # most specific first: a refused connection is no timeout
        if any(by_type(link) for link in chain) or any(_says(link, by_text) for link in chain):
            return NetworkFailure(kind, REASONS[kind])
    return NetworkFailure("network", type(error).__name__)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: `reason` (urllib3), an exception argument (requests), causes."""
    seen: set[int] = set()
    pending = [error]
    while pending and len(seen) < 16:
        link = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        wrapped = [getattr(link, "reason", None), *link.args[:1], link.__cause__, link.__context__]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))


def _says(error: BaseException, words: tuple[str, ...]) -> bool:
    text = str(error).lower()
    return any(word in text for word in words)


def _library(module: str, *names: str) -> tuple[type, ...]:
    """Exception classes of a library already imported (none if it is not: then no error can be one)."""
    loaded = sys.modules.get(module)
    return tuple(cls for name in names if isinstance(cls := getattr(loaded, name, None), type))


def _is_tls(error: BaseException) -> bool:
    return isinstance(error, (ssl.SSLError, ssl.CertificateError, *_library("urllib3.exceptions", "SSLError"),
                              *_library("requests.exceptions", "SSLError")))


def _is_dns(error: BaseException) -> bool:
    return isinstance(error, (socket.gaierror, *_library("urllib3.exceptions", "NameResolutionError")))


def _is_refused(error: BaseException) -> bool:
    return isinstance(error, ConnectionRefusedError)


def _is_unreachable(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _UNREACHABLE


def _is_timeout(error: BaseException) -> bool:
    # urllib3 1.26's NewConnectionError derives from its ConnectTimeoutError: the rules above run first
    return isinstance(error, (TimeoutError, *_library("urllib3.exceptions", "TimeoutError"),
                              *_library("requests.exceptions", "Timeout")))


_RULES: list[tuple[str, Callable[[BaseException], bool], tuple[str, ...]]] = [
    ("tls", _is_tls, ("certificate verify failed", "wrong version number", "sslerror")),
    ("dns", _is_dns, ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
                      "nameresolutionerror", "getaddrinfo")),
    ("refused", _is_refused, ("connection refused",)),
    ("unreachable", _is_unreachable, ("no route to host", "network is unreachable")),
    ("timeout", _is_timeout, ("timed out",)),
]
