"""A local HTTP API that turns requests into the API Gateway events the cloud sends, like SAM's local API.

Routes are `layout.ROUTES`, the same table the deploy descriptors describe. Bodies over 1 MB are refused
before they are read, as API Gateway refuses them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

from . import local
from .events import MAX_BODY_BYTES
from .layout import ROUTES

log = logging.getLogger("precheck.localapi")

DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES


def _compile(template: str) -> re.Pattern:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}/?$")


_ROUTES = [(method, _compile(path), path, function) for method, path, function in ROUTES]


def route(method: str, path: str) -> tuple[Optional[str], dict, bool]:
    """(function, path parameters, path known) for a request."""
    known = False
    for route_method, pattern, _, function in _ROUTES:
        match = pattern.match(path)
        if match:
            known = True
            if route_method == method:
                return function, match.groupdict(), True
    return None, {}, known


def api_event(method: str, path: str, headers: dict, query: dict, path_parameters: dict, body: bytes) -> dict:
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64

        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {"path": path, "httpMethod": method, "headers": headers, "queryParameters": query,
            "pathParameters": path_parameters, "body": text, "isBase64Encoded": encoded}


class _Handler(BaseHTTPRequestHandler):
    server_version = "precheck-local-api"
    timeout = 30  # seconds a client may take to send its request

    def _answer(self, status: int, body: str, headers: Optional[dict] = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for key, value in (headers or {"Content-Type": "application/json; charset=utf-8"}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        function, params, known = route(self.command, parts.path)
        if function is None:
            status, message = (405, "method not allowed") if known else (404, f"no route for {parts.path[:200]}")
            return self._answer(status, json.dumps({"error": message}))
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
        event = api_event(self.command, parts.path, dict(self.headers.items()), dict(parse_qsl(parts.query)),
                          params, body)
        answer = json.loads(local.call(function, event))
        self._answer(int(answer["statusCode"]), answer.get("body") or "", answer.get("headers"))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args) -> None:
        log.info("%s %s", self.address_string(), format % args)


class LocalApi:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalApi":
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "LocalApi":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
