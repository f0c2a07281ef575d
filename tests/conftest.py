from __future__ import annotations

import pytest

from precheck import wiring
from precheck.adapters.inprocess_invoker import InProcessInvoker
from precheck.adapters.sqlite_store import SqliteResultStore
from precheck.layout import destination_of
from precheck import local
from precheck.deps import Deps
from tests.helpers import Listener


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite result store in a temporary folder."""
    result = SqliteResultStore(tmp_path / "precheck.db")
    yield result
    result.close()


@pytest.fixture
def local_flow(store):
    """The embedded wiring (SQLite store, in-process invoker) installed for the real handlers."""
    deps = Deps(store=store, invoker=InProcessInvoker(local.DEFAULT, destination_of), grace_s=1.0)
    wiring.use(deps)
    yield deps
    deps.invoker.drain(15)
    wiring.use(None)


@pytest.fixture
def listener():
    """An open loopback port that accepts connections."""
    result = Listener()
    yield result
    result.close()


@pytest.fixture
def silent_listener():
    """A loopback port that accepts connections and never answers."""
    result = Listener(silent=True)
    yield result
    result.close()
