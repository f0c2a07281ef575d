"""The in-process emulator: one Tablestore instance served on a local port from a background thread."""

from __future__ import annotations

import threading

from .auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_INSTANCE, Authenticator
from .backend import Backend
from .server import FaultInjector, RequestLog, make_server
from .wire import WireProtocol


class TablestoreEmulator:
    """A local Tablestore instance the real ``tablestore`` SDK talks to.

    ``port=0`` picks a free port; ``endpoint`` is known after :meth:`start`. With ``data_file`` the
    tables are loaded from that JSON file at start and written back after every change.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 access_key_id: str = DEFAULT_ACCESS_KEY_ID,
                 access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
                 instance: str = DEFAULT_INSTANCE, data_file: str | None = None,
                 sts_token: str | None = None, socket_timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.instance = instance
        self.data_file = data_file
        self.socket_timeout = socket_timeout
        self.authenticator = Authenticator(access_key_id, access_key_secret, instance, sts_token)
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.backend: Backend | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> TablestoreEmulator:
        if self._server is not None:
            return self
        self.backend = Backend(data_file=self.data_file)
        self._server = make_server(self.host, self.port, wire=WireProtocol(self.backend),
                                   authenticator=self.authenticator, faults=self.faults,
                                   requests=self.requests, socket_timeout=self.socket_timeout)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"tablestore-emulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.backend is not None:
            self.backend.save()
        self._server = None
        self._thread = None

    def __enter__(self) -> TablestoreEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- test controls

    def inject_errors(self, api: str, code: str = "OTSServerBusy", status: int = 503,
                      times: int = 1, message: str | None = None) -> None:
        """Answer the next ``times`` requests of ``api`` (``"*"``: any API; ``times=-1``: until
        :meth:`clear_errors`) with this error, after authentication and before running them."""
        self.faults.add(api, code, status, message or _DEFAULT_MESSAGES.get(code, code), times)

    def clear_errors(self) -> None:
        self.faults.clear()

    def request_count(self, api: str) -> int:
        """How many requests of ``api`` reached the emulator (refused and faulted ones included)."""
        return self.requests.count(api)

    def advance_clock(self, seconds: float) -> None:
        """Move the instance's clock (cell timestamps, TTL) forward; answer dates stay real."""
        assert self.backend is not None, "start() first"
        self.backend.clock_offset += seconds

    def reset(self) -> None:
        """Drop every table, injected error and clock shift."""
        if self.backend is not None:
            self.backend.reset()
            self.backend.clock_offset = 0.0
        self.faults.clear()

    def client_kwargs(self) -> dict:
        """Arguments for ``tablestore.OTSClient(**emu.client_kwargs())``."""
        return {"end_point": self.endpoint, "access_key_id": self.access_key_id,
                "access_key_secret": self.access_key_secret, "instance_name": self.instance}


_DEFAULT_MESSAGES = {
    "OTSServerBusy": "Server is busy.",
    "OTSPartitionUnavailable": "The partition is not available.",
    "OTSTimeout": "Operation timeout.",
    "OTSServerUnavailable": "Server is not available.",
    "OTSInternalServerError": "Internal server error.",
    "OTSNotEnoughCapacityUnit": "Remaining capacity unit is not enough.",
    "OTSRowOperationConflict": "Data is being modified by the other request.",
    "OTSTableNotReady": "The table is not ready.",
    "OTSQuotaExhausted": "Too frequent table operations.",
    "OTSOperationThrottled": "The requests have been throttled.",
}
