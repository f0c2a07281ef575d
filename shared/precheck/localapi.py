"""A local HTTP API that turns requests into the API Gateway events the cloud sends, like SAM's local API.

Routes are `layout.ROUTES`, the same table the deploy descriptors and the command parsers use. Bodies over
1 MB are refused before they are read, as API Gateway refuses them.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import layout, local
from .envelopes import MAX_BODY_BYTES

log = logging.getLogger("precheck.localapi")

DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES


class _Handler(BaseHTTPRequestHandler):
    server_version = "precheck-local-api"
    timeout = 30  # seconds a client may take to send its request

    server: _Server

    def _answer(self, status: int, body: str, headers: dict | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for key, value in (headers or {"Content-Type": "application/json; charset=utf-8"}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        found = layout.match(self.command, parts.path)  # refused before a body is read
        if found.route is None:
            refused = local.unrouted(found, parts.path)
            return self._answer(refused.statusCode, refused.body, refused.headers)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._answer(400, json.dumps({"error": "Content-Length is not a number"}))
        if length > MAX_BODY_BYTES:
            # never kept: read and dropped in chunks (up to a bound) so the client, still sending, gets the
            # answer instead of a reset connection; beyond the bound the connection is simply closed
            if length <= DRAIN_LIMIT_BYTES:
                while length > 0:
                    chunk = self.rfile.read(min(length, 64 * 1024))
                    if not chunk:
                        break
                    length -= len(chunk)
            self.close_connection = True
            return self._answer(413, json.dumps({"error": f"request body is larger than {MAX_BODY_BYTES} bytes"}))
        body = self.rfile.read(length) if length > 0 else b""
        answer = self.server.functions.request(self.command, parts.path, body, dict(self.headers.items()),
                                               dict(parse_qsl(parts.query)), route=found)
        self._answer(answer.statusCode, answer.body, answer.headers or None)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    functions: local.Functions


class LocalApi:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, functions: local.Functions | None = None):
        self._server = _Server((host, port), _Handler)
        self._server.functions = functions or local.DEFAULT
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalApi:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
