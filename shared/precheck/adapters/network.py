"""TCP reachability with every wait bounded, DNS included (getaddrinfo has no timeout of its own)."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable

from ..models import Endpoint
from ..ports import Connected, ProbeError

Resolver = Callable[..., list]


def resolve(host: str, port: int, timeout: float, getaddrinfo: Resolver = socket.getaddrinfo) -> list[tuple]:
    """An IP address as it is (there is nothing to look up or wait for); a name by getaddrinfo in a daemon
    thread, abandoned after `timeout` seconds."""
    literal = _address_literal(host, port)
    if literal is not None:
        return [literal]
    box: list = []
    # an ASCII name goes as bytes: the same lookup, without loading the IDNA codec (cold start), and a label
    # the codec refuses (over 63 characters) fails as the resolver's own error rather than in the thread
    name: str | bytes = host.encode("ascii") if host.isascii() else host

    def target() -> None:
        try:
            box.append(getaddrinfo(name, port, type=socket.SOCK_STREAM))
        except OSError as error:
            box.append(error)

    worker = threading.Thread(target=target, name="resolve", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if not box:
        raise ProbeError("timeout", f"name resolution of {host} took longer than {timeout:.1f} s")
    if isinstance(box[0], OSError):
        error = box[0]
        raise ProbeError("dns", getattr(error, "strerror", None) or str(error))
    return box[0]


def _address_literal(host: str, port: int) -> tuple | None:
    """What getaddrinfo answers for an IPv4 or IPv6 address written out (`inet_pton`'s forms; the address
    normalized as getaddrinfo gives it), without a thread per lookup (issue 16: a check function's cold start,
    and 11 threads of every `precheck check`); None for a name, or a form only the resolver reads (`127.1`,
    a scoped `fe80::1%eth0`), which goes to getaddrinfo as before."""
    if not host.isascii():
        return None
    for family, proto_address in ((socket.AF_INET, lambda text: (text, port)),
                                  (socket.AF_INET6, lambda text: (text, port, 0, 0))):
        try:
            packed = socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", proto_address(socket.inet_ntop(family, packed)))
    return None


class SocketNetworkProbe:
    """Resolves, then tries each address in turn until one accepts, within one overall deadline."""

    def __init__(self, getaddrinfo: Resolver = socket.getaddrinfo):
        self._getaddrinfo = getaddrinfo

    def connect(self, endpoint: Endpoint, timeout: float) -> Connected:
        deadline = time.monotonic() + max(timeout, 0.0)
        addresses = resolve(endpoint.host, endpoint.port, timeout, self._getaddrinfo)
        last: ProbeError | None = None
        for family, kind, proto, _, address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock = socket.socket(family, kind, proto)
            sock.settimeout(remaining)
            started = time.perf_counter()
            try:
                sock.connect(address)
                return Connected(address=f"{address[0]}:{address[1]}",
                                 connect_ms=(time.perf_counter() - started) * 1000)
            except TimeoutError:
                last = ProbeError("timeout", f"no answer within {timeout:.1f} s")
            except ConnectionRefusedError:
                last = ProbeError("refused", "")
            except OSError as error:
                kind_name = "unreachable" if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else "network"
                last = ProbeError(kind_name, error.strerror or str(error))
            finally:
                sock.close()
        raise last or ProbeError("timeout", f"no answer within {timeout:.1f} s")
