"""SQL Server Browser (MC-SQLR, "SQL Server Resolution Protocol") on UDP: tells clients the TCP port of a
named instance, so that ``SERVER=host\\INSTANCE`` works.

Requests (MC-SQLR 2.2.1-2.2.4): CLNT_BCAST_EX 0x02 and CLNT_UCAST_EX 0x03 (every instance; FreeTDS's
``tsql -L``), CLNT_UCAST_INST 0x04 + instance name + 0x00 (one instance; FreeTDS, pytds, Microsoft's
drivers). Answer (2.2.5 SVR_RESP): 0x05, RESP_SIZE (2 bytes, little-endian), RESP_DATA =
``ServerName;H;InstanceName;I;IsClustered;No;Version;V;tcp;PORT;;`` per instance. MC-SQLR 3.2.5.1: the
server answers only a request it understands, and for CLNT_UCAST_INST only if the instance exists; anything
else (an unknown instance, CLNT_UCAST_DAC 0x0F here, garbage) gets no answer, and the client times out.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from dataclasses import dataclass

log = logging.getLogger("tds_emulator.browser")

CLNT_BCAST_EX, CLNT_UCAST_EX, CLNT_UCAST_INST, SVR_RESP = 0x02, 0x03, 0x04, 0x05
_MAX_INST_DATA = 1024  # MC-SQLR 2.2.5: RESP_DATA for CLNT_UCAST_INST is at most 1,024 bytes


@dataclass(frozen=True)
class Instance:
    """What the Browser says about one instance."""

    server_name: str
    instance_name: str
    version: str
    tcp_port: int
    clustered: bool = False

    def describe(self) -> str:
        return (f"ServerName;{self.server_name};InstanceName;{self.instance_name};"
                f"IsClustered;{'Yes' if self.clustered else 'No'};Version;{self.version};tcp;{self.tcp_port};;")


def response(instances: list[Instance]) -> bytes:
    data = "".join(instance.describe() for instance in instances).encode("ascii", errors="replace")
    return struct.pack("<BH", SVR_RESP, len(data)) + data


def answer(request: bytes, instances: list[Instance]) -> bytes | None:
    """The SVR_RESP datagram for ``request``, or None when the Browser stays silent."""
    if not request or not instances:
        return None
    if request[0] in (CLNT_BCAST_EX, CLNT_UCAST_EX) and len(request) == 1:
        return response(instances)
    if request[0] == CLNT_UCAST_INST and len(request) >= 2:
        name = request[1:].split(b"\x00", 1)[0].decode("ascii", errors="replace")
        found = [i for i in instances if i.instance_name.upper() == name.upper()]
        if found:
            data = response(found[:1])
            return data if len(data) - 3 <= _MAX_INST_DATA else None
    return None


class SqlBrowser:
    """A Browser on ``host``:``port`` (UDP; 1434 is the real one, 0 picks a free port) answering for the
    instances given to ``add``. ``start()``/``stop()`` or a context manager; the socket polls every 0.1 s, so
    ``stop()`` returns promptly."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1434):
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._instances: list[Instance] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def add(self, instance: Instance) -> SqlBrowser:
        with self._lock:
            self._instances = [i for i in self._instances if i.instance_name.upper() != instance.instance_name.upper()]
            self._instances.append(instance)
        return self

    def remove(self, instance_name: str) -> None:
        with self._lock:
            self._instances = [i for i in self._instances if i.instance_name.upper() != instance_name.upper()]

    @property
    def instances(self) -> list[Instance]:
        with self._lock:
            return list(self._instances)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the Browser is not started")
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> SqlBrowser:
        if self._sock is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        sock.settimeout(0.1)
        self._sock = sock
        self._port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"sql-browser-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._sock is None:
            return
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()
        self._sock = None

    def __enter__(self) -> SqlBrowser:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._sock is not None
        sock = self._sock
        while not self._stopping.is_set():
            try:
                request, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            reply = answer(request, self.instances)
            if reply is None:
                log.debug("SQL Browser: no answer to %r from %s", request[:40], peer)
                continue
            try:
                sock.sendto(reply, peer)
            except OSError as exc:  # the client went away: UDP, nothing to clean up
                log.debug("SQL Browser: cannot answer %s: %s", peer, exc)


def ask(host: str, instance: str | None = None, port: int = 1434, timeout: float = 2.0) -> bytes | None:
    """Send CLNT_UCAST_INST (or CLNT_UCAST_EX without ``instance``) and return the raw answer, or None if
    none came within ``timeout`` seconds. A client for tests and diagnostics."""
    request = bytes([CLNT_UCAST_EX]) if instance is None else bytes([CLNT_UCAST_INST]) + instance.encode() + b"\0"
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(request, (host, port))
        try:
            return sock.recv(65535 + 3)
        except TimeoutError:
            return None
