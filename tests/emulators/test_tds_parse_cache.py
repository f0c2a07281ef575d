"""The TDS emulator parses a batch it has seen before only once (engine._ParseCache), and that changes no
answer: each session still gets what its own login may see, a rewritten query never leaks into the next use,
a batch that does not parse fails every time, and the cache stays bounded."""

from __future__ import annotations

import pytest
import sqlglot

from tds_emulator import engine
from tds_emulator.catalog import Catalog
from tests.emulators.test_tds_emulator import PASSWORD, USER, catalog

pytestmark = pytest.mark.emulator

DATABASES = "SELECT name, state_desc FROM sys.databases ORDER BY name"


@pytest.fixture()
def parses(monkeypatch):
    """The texts sqlglot was asked to parse, with a fresh cache."""
    seen: list[str] = []
    real = sqlglot.parse

    def counting(text, *args, **kwargs):
        seen.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(engine.sqlglot, "parse", counting)
    monkeypatch.setattr(engine, "_PARSED", engine._ParseCache())
    return seen


def _engine():
    raw = catalog(logins=[{"name": USER, "password": PASSWORD, "sysadmin": True},
                          {"name": "low", "password": PASSWORD}])
    return engine.Engine(Catalog.from_dict(raw))


def _rows(instance, user: str, sql: str):
    session = instance.open_session(instance.authenticate(user, PASSWORD), "master")
    try:
        results = session.execute(sql)
        assert results[-1].error is None, results[-1].error
        return [tuple(row) for row in results[-1].rows]
    finally:
        session.close()


def test_a_batch_seen_before_is_not_parsed_again_and_each_login_sees_its_own_rows(parses):
    instance = _engine()
    admin = _rows(instance, USER, DATABASES)
    low = _rows(instance, "low", DATABASES)
    again = _rows(instance, USER, DATABASES)
    assert parses.count(DATABASES) == 1
    assert ("hr", "OFFLINE") in admin and ("sales", "ONLINE") in admin
    # an OFFLINE database's row is visible only with ALTER ANY DATABASE or CREATE DATABASE (sysadmin has both)
    assert ("hr", "OFFLINE") not in low and ("sales", "ONLINE") in low
    assert again == admin  # the first use's rewriting (tables renamed for SQLite) did not change the cached tree


def test_a_batch_that_does_not_parse_fails_every_time(parses):
    instance = _engine()
    session = instance.open_session(instance.authenticate(USER, PASSWORD), "master")
    broken = "SELECT name FROM sys.databases WHERE ("
    first, second = session.execute(broken)[-1].error, session.execute(broken)[-1].error
    assert first is not None and second is not None and first.number == second.number == 102
    assert parses.count(broken) == 2


def test_the_cache_forgets_the_oldest_batch_and_keeps_no_long_one():
    cache = engine._ParseCache(size=2, longest=20)
    for text in ("SELECT 1", "SELECT 2", "SELECT 3"):
        cache.put(text, [sqlglot.parse_one(text, read="tsql")])
    assert cache.get("SELECT 1") is None and cache.get("SELECT 2") and cache.get("SELECT 3")
    long = "SELECT 1 AS " + "x" * 20
    assert cache.put(long, [sqlglot.parse_one(long, read="tsql")]) and cache.get(long) is None
