"""HTTP transport: a ``ThreadingHTTPServer`` that authenticates each ``POST /<Api>``, applies injected
faults, hands the body to :class:`~tablestore_emulator.wire.WireProtocol` and signs the answer."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .auth import Authenticator, Verified, answer_headers
from .state import OTSError
from .wire import WireProtocol, encode_error

log = logging.getLogger("tablestore_emulator")

MAX_BODY_BYTES = 5 * 1024 * 1024 + 512 * 1024   # above it: 413 OTSRequestBodyTooLarge
_DISCARD_CHUNK = 1 << 16


@dataclass
class _Fault:
    api: str
    code: str
    status: int
    message: str
    times: int


class FaultInjector:
    """Errors to answer instead of running the next requests of an API (``"*"`` matches every API)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def add(self, api: str, code: str, status: int, message: str, times: int) -> None:
        with self._lock:
            self._faults.append(_Fault(api, code, status, message, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, api: str) -> OTSError | None:
        with self._lock:
            for fault in self._faults:
                if fault.api in (api, "*") and fault.times != 0:
                    if fault.times > 0:
                        fault.times -= 1
                    return OTSError(fault.status, fault.code, fault.message)
        return None


class RequestLog:
    """Counts requests per API (including refused and faulted ones), for tests of retries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def record(self, api: str) -> None:
        with self._lock:
            self.counts[api] = self.counts.get(api, 0) + 1

    def count(self, api: str) -> int:
        with self._lock:
            return self.counts.get(api, 0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: the listen backlog (socketserver's default is 5): the service takes hundreds of clients connecting at
    #: once (one per function instance) without resetting any
    request_queue_size = 1024

    def __init__(self, address, handler, *, wire: WireProtocol, authenticator: Authenticator,
                 faults: FaultInjector, requests: RequestLog, socket_timeout: float) -> None:
        self.wire = wire
        self.authenticator = authenticator
        self.faults = faults
        self.requests = requests
        self.socket_timeout = socket_timeout
        self._connections: set = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, sock, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(sock)

    def close_connections(self) -> None:
        """Drop open keep-alive connections so that a stopped emulator answers nothing more."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    # headers and body go out in two writes: without this the body waits ~40 ms for the client's delayed ACK
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "TablestoreEmulator"

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout     # idle keep-alive connections are closed after it
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, fmt, *args) -> None:   # quiet: the service logs nothing to its clients
        log.debug("%s - %s", self.address_string(), fmt % args)

    def _refuse_method(self) -> None:
        self._read_body()
        self._send(405, encode_error("OTSMethodNotAllowed", "Only POST method for requests is supported."),
                   None)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = _refuse_method

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(_DISCARD_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        api = self.path.split("?", 1)[0].strip("/")
        self.server.requests.record(api)
        body = self._read_body()
        if body is None:
            self._send(413, encode_error("OTSRequestBodyTooLarge", "The size of POST data is too large."), None)
            return
        verified: Verified | None = None
        try:
            verified = self.server.authenticator.verify(self.path, dict(self.headers.items()), body)
            fault = self.server.faults.take(api)
            if fault is not None:
                raise fault
            answer = self.server.wire.handle(api, body)
            self._send(200, answer, verified)
        except OTSError as exc:
            signed = None if exc.code == "OTSAuthFailed" else verified
            self._send(exc.status, encode_error(exc.code, exc.message), signed)
        except Exception:  # a bug in the emulator: answer like the service's internal error
            log.exception("internal error serving %s", api)
            self._send(500, encode_error("OTSInternalServerError", "Internal server error."), verified)

    def _send(self, status: int, body: bytes, verified: Verified | None) -> None:
        request_id = str(uuid.uuid4())
        headers = answer_headers(self.path, body, request_id, verified)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(host: str, port: int, *, wire: WireProtocol, authenticator: Authenticator,
                faults: FaultInjector, requests: RequestLog, socket_timeout: float = 30.0) -> _Server:
    return _Server((host, port), _Handler, wire=wire, authenticator=authenticator, faults=faults,
                   requests=requests, socket_timeout=socket_timeout)
