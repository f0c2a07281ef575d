"""Shared test helpers: sample events, and small TCP endpoints that stand in for the network."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from precheck import testing

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from tests/events/, in the shape FC delivers it."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def event_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode("utf-8")


def api_body(answer: str) -> tuple[int, dict[str, Any]]:
    """(status, parsed body) of an API Gateway answer a handler returned."""
    response = json.loads(answer)
    return response["statusCode"], json.loads(response["body"])


#: one loopback listener for the tests, the demo and the benchmarks
Listener = testing.Listener


def closed_port() -> int:
    """A loopback port that nothing listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class FullBacklog:
    """A loopback port whose accept queue is full: a new connection attempt gets no answer (times out)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=1)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.filler.close()
        self.sock.close()
