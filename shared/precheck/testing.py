"""A test client that speaks the triggers, in the spirit of chalice's: requests, invocations and events.

    with Client(deps) as client:
        answer = client.http.post("/instances", json=instance)          # API Gateway -> start_precheck
        client.invoke("start_precheck", client.events.timer())          # the timer
        client.invoke("collect_outcome", client.events.destination(request, response=outcome_json))
        run = client.http.get("/instances/erp-prod/prechecks/latest").json

Requests go through the route table (`layout.ROUTES`) to the real handlers of `functions/`, as the local API
and API Gateway send them; events are built with the envelope models the parsers read. `Listener` is a
loopback port that accepts connections, standing in for a reachable endpoint (the demo uses it too).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import layout, local, wiring
from .deps import Deps
from .envelopes import ApiRequest, CloudEvent, DestinationEvent, TimerEvent
from .models import CheckRequest, Instance, Outcome


@dataclass
class Response:
    status: int
    json: Any
    headers: dict[str, str] = field(default_factory=dict)


class Http:
    """Requests as API Gateway delivers them: routed by method and path, answered as the handler answers."""

    def __init__(self, functions: local.Functions):
        self._functions = functions

    def request(self, method: str, path: str, *, json: Any = None, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Response:
        payload: bytes | str | dict | None = body if json is None else json
        answer = self._functions.request(method, path, payload, headers, query)
        return Response(answer.statusCode, answer.json_body(), answer.headers)

    def get(self, path: str, **options: Any) -> Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> Response:
        return self.request("POST", path, **options)


class Events:
    """Trigger events in the shapes FC delivers them."""

    def api(self, method: str, path: str, body: Any = None, path_parameters: dict[str, str] | None = None) -> bytes:
        parameters = path_parameters if path_parameters is not None else layout.match(method, path).parameters
        return ApiRequest.build(method, path, parameters, body).to_bytes()

    def timer(self, trigger_time: str | None = None, name: str = "nightly-recheck") -> bytes:
        stamp = trigger_time or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return TimerEvent(triggerTime=stamp, triggerName=name).to_bytes()

    def registration(self, instance: Instance | dict, event_id: str | None = None,
                     source: str = "acs.custom.sqlserver-inventory") -> bytes:
        data = instance.model_dump(mode="json") if isinstance(instance, Instance) else instance
        return CloudEvent(id=event_id or str(uuid.uuid4()), source=source, specversion="1.0",
                          type="sqlserver:Instance:Registered", data=data).to_bytes()

    def check_request(self, request: CheckRequest) -> bytes:
        return request.model_dump_json().encode("utf-8")

    def destination(self, request: CheckRequest, *, outcome: Outcome | None = None, response: str | None = None,
                    error: BaseException | None = None, request_id: str = "req-1", attempts: int = 1) -> bytes:
        """What FC delivers to `collect_outcome` after the check invoked with `request` answered `outcome`
        (or the raw `response`), or raised `error`."""
        if outcome is not None:
            response = outcome.model_dump_json()
        return DestinationEvent.build(
            function_arn=local.function_arn(f"check_{request.item}"), request_id=request_id,
            request_payload=self.check_request(request), now_ms=int(time.time() * 1000), response=response,
            error=error, attempts=attempts).to_bytes()


class Client:
    """Installs `deps` for the handlers (`wiring.use`) while it is open, and talks to them."""

    def __init__(self, deps: Deps | None = None, functions: local.Functions | None = None):
        self.deps = deps
        self.functions = functions or local.DEFAULT
        self.http = Http(self.functions)
        self.events = Events()

    def invoke(self, function: str, event: bytes | str | dict) -> Any:
        """Call a function's handler synchronously; a JSON answer is parsed."""
        answer = self.functions.call(function, event)
        try:
            return json.loads(answer)
        except (TypeError, ValueError):
            return answer

    def drain(self, timeout: float = 15.0) -> bool:
        """Wait for the in-process invoker's async work (and its destinations) to finish."""
        drain = getattr(self.deps.invoker if self.deps else None, "drain", None)
        return bool(drain(timeout)) if drain is not None else True

    def __enter__(self) -> Client:
        if self.deps is not None:
            wiring.use(self.deps)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.deps is not None:
            self.drain()
            wiring.use(None)


class Listener:
    """A loopback TCP port that accepts connections; a `silent` one holds them open and never answers."""

    def __init__(self, silent: bool = False, backlog: int = 128):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        if silent:
            self.sock.settimeout(0.1)
            threading.Thread(target=self._hold, daemon=True).start()

    def _hold(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
