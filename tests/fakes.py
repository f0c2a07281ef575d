"""Fakes of the probe interfaces in precheck.ports, for testing check logic without a network."""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from precheck.checks import CheckContext, Probes
from precheck.models import Endpoint, Instance
from precheck.ports import Connected, PrecheckError, ProbeError, SqlError


class FakeNetwork:
    def __init__(self, results: Optional[dict[str, Any]] = None, default: Any = None):
        self.results = results or {}
        self.default = default if default is not None else Connected("127.0.0.1:443", 1.5)
        self.calls: list[tuple[str, float]] = []

    def connect(self, endpoint: Endpoint, timeout: float) -> Connected:
        self.calls.append((str(endpoint), timeout))
        result = self.results.get(str(endpoint), self.default)
        if isinstance(result, Exception):
            raise result
        return result


class FakeOss:
    def __init__(self, result: Any = None):
        self.result = result if result is not None else {"location": "oss-cn-hangzhou", "storage_class": "Standard"}
        self.calls: list[tuple[str, str]] = []

    def bucket_info(self, endpoint: Endpoint, bucket: str, timeout: float) -> dict:
        self.calls.append((str(endpoint), bucket))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class FakeSession:
    def __init__(self, databases: list[tuple[str, str, str]], can_view_all: int = 1, error: Exception = None):
        self.databases, self.can_view_all, self.error = databases, can_view_all, error
        self.queries: list[str] = []
        self.closed = False

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.queries.append(sql)
        if self.error:
            raise self.error
        if "sys.databases" in sql:
            return [{"name": n, "state_desc": s, "recovery_model_desc": r} for n, s, r in self.databases]
        if "HAS_PERMS_BY_NAME" in sql:
            return [{"can_view_all": self.can_view_all}]
        raise SqlError("query", f"unexpected query {sql}")

    def close(self) -> None:
        self.closed = True


class FakeSql:
    def __init__(self, session: Optional[FakeSession] = None, error: Optional[PrecheckError] = None,
                 delay: float = 0.0):
        self.session, self.error, self.delay = session, error, delay
        self.logins: list[tuple[str, str]] = []

    def connect(self, endpoint: Endpoint, user: str, password: str, timeout: float) -> FakeSession:
        self.logins.append((user, password))
        if self.delay:
            time.sleep(self.delay)
        if self.error:
            raise self.error
        return self.session


class FakeSecrets:
    def __init__(self, values: Optional[dict[str, str]] = None):
        self.values = values if values is not None else {"env:SQL_PASSWORD": "s3cret-Pa55"}

    def resolve(self, ref: str) -> str:
        from precheck.ports import SecretError

        if ref not in self.values:
            raise SecretError("secret", f"environment variable {ref[4:]} is not set")
        return self.values[ref]


def probes(network=None, oss=None, sql=None, secrets=None) -> Probes:
    network, oss, sql, secrets = network or FakeNetwork(), oss or FakeOss(), sql or FakeSql(), secrets or FakeSecrets()
    return Probes(network=lambda: network, oss=lambda: oss, sql=lambda: sql, secrets=lambda: secrets)


def instance(**overrides: Any) -> Instance:
    fields = {"instance_id": "erp-prod", "region": "cn-hangzhou", "server": "10.0.1.15,1433", "user": "backup",
              "password_ref": "env:SQL_PASSWORD"}
    fields.update(overrides)
    return Instance(**fields)


def context(probes_: Probes, **overrides: Any) -> CheckContext:
    inst = instance(**overrides)
    return CheckContext(inst, probes_, time.monotonic(), inst.item_timeout_s)


def refused() -> ProbeError:
    return ProbeError("refused", "")
