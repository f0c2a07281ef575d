"""Running the functions of `functions/` on a laptop: loading their handlers and giving them a context.

The same `index.py` files FC runs are loaded here by path, so the local flow exercises the real handlers.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import layout
from .envelopes import ApiRequest, ApiResponse
from .layout import SERVICE

Handler = Callable[[Any, Any], Any]


class UnknownFunction(LookupError):
    """No folder `functions/<name>/` holds an `index.py`."""


def find_functions_dir() -> Path:
    """The `functions/` folder of the checkout this package lives in."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "functions"
        if (candidate / "start_precheck" / "index.py").is_file():
            return candidate
    raise FileNotFoundError("cannot find the functions/ folder; set PRECHECK_FUNCTIONS_DIR to its path")


class Functions:
    """The functions of one `functions/` folder, each handler loaded once per process."""

    def __init__(self, directory: Path | None = None, region: str = "local"):
        self._directory = directory
        self.region = region
        self._loaded: dict[str, Handler] = {}
        self._fixed = False
        self._lock = threading.Lock()

    @classmethod
    def of(cls, handlers: dict[str, Handler], region: str = "local") -> Functions:
        """Functions that are exactly these handlers (no folder): for tests of what runs them."""
        functions = cls(None, region)
        functions._loaded, functions._fixed = dict(handlers), True
        return functions

    @property
    def directory(self) -> Path:
        if self._directory is None:
            self._directory = find_functions_dir()
        return self._directory

    def names(self) -> list[str]:
        if self._fixed:
            return sorted(self._loaded)
        return sorted(path.parent.name for path in self.directory.glob("*/index.py"))

    def load(self, name: str) -> Handler:
        """The `handler` of functions/<name>/index.py; `UnknownFunction` if there is none."""
        with self._lock:
            if name not in self._loaded:
                if self._fixed:
                    raise UnknownFunction(f"no function named {name!r}")
                path = self.directory / name / "index.py"
                if not path.is_file():
                    raise UnknownFunction(f"no function named {name!r} (looked for {path.name} in functions/{name}/)")
                module_name = f"fc_function_{name}"
                spec = importlib.util.spec_from_file_location(module_name, path)
                if spec is None or spec.loader is None:
                    raise UnknownFunction(f"cannot load functions/{name}/index.py")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
                self._loaded[name] = module.handler
            return self._loaded[name]

    def context(self, name: str, request_id: str | None = None) -> SimpleNamespace:
        return fake_context(name, request_id, region=self.region)

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict[str, str] | None = None, query: dict[str, str] | None = None, *,
                route: layout.Match | None = None) -> ApiResponse:
        """An HTTP request as API Gateway delivers it: routed by `layout.ROUTES` (or by `route`, matched
        already) to its function, as the event that function receives; 404 or 405 when no route takes it."""
        found = route or layout.match(method, path)
        if found.route is None:
            return unrouted(found, path)
        event = ApiRequest.build(method, path, found.parameters, body, headers, query)
        return ApiResponse.model_validate_json(self.call(found.route.function, event.to_bytes()))

    def call(self, name: str, event: bytes | str | dict, request_id: str | None = None) -> Any:
        """Invoke a function synchronously, as `sam local invoke` would."""
        if isinstance(event, dict):
            event = json.dumps(event)
        if isinstance(event, str):
            event = event.encode("utf-8")
        return self.load(name)(event, self.context(name, request_id))


def unrouted(found: layout.Match, path: str) -> ApiResponse:
    """The answer to a request no route takes: 405 for a known path, 404 otherwise."""
    status, message = (405, "method not allowed") if found.path_known else (404, f"no route for {path[:200]}")
    return ApiResponse(statusCode=status, headers={"Content-Type": "application/json; charset=utf-8"},
                       body=json.dumps({"error": message}))


#: the functions of this checkout (PRECHECK_FUNCTIONS_DIR is honoured by `wiring.functions(settings)`)
DEFAULT = Functions()


def load_handler(name: str) -> Handler:
    return DEFAULT.load(name)


def fake_context(function_name: str, request_id: str | None = None, timeout: int = 60,
                 region: str = "local") -> SimpleNamespace:
    """A context shaped like FC's, with no credentials (locally the settings' credentials are used)."""
    return SimpleNamespace(
        request_id=request_id or str(uuid.uuid4()),
        credentials=SimpleNamespace(access_key_id=None, access_key_secret=None, security_token=None),
        function=SimpleNamespace(name=function_name, handler="index.handler", memory=256, timeout=timeout),
        service=SimpleNamespace(name=SERVICE, qualifier="LATEST"),
        region=region,
        account_id="local",
    )


def function_arn(function_name: str, region: str = "local") -> str:
    return f"acs:fc:{region}:local:services/{SERVICE}.LATEST/functions/{function_name}"


def call(name: str, event: bytes | str | dict, request_id: str | None = None) -> Any:
    return DEFAULT.call(name, event, request_id)
