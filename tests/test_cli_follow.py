"""`precheck check` waits for its run on the in-process invoker, not on a clock (cli_check.follow): it reads
the run again the moment the invoker has nothing left to run, and sleeps only while the invoker is idle and
the run still waits for something not yet due."""

from __future__ import annotations

import time

import pytest

from precheck import cli_check


class FakeSession:
    """The store's view of one run, answered by GET; `drain` is the invoker: it finishes the run's work
    (`finish_after` drains from now), or has nothing running at all (`idle`)."""

    def __init__(self, finish_after: int = 1, idle: bool = False, ends_after_reads: int | None = None):
        self.view = {"instance_id": "i1", "run_id": "r1", "status": "RUNNING", "deadline": time.time() + 5,
                     "items": []}
        self.drains: list[float] = []
        self.reads = 0
        self._finish_after, self._idle, self._ends_after_reads = finish_after, idle, ends_after_reads

    def call_api(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        self.reads += 1
        if self._ends_after_reads is not None and self.reads >= self._ends_after_reads:
            self.view = {**self.view, "status": "PASSED"}
        return 200, dict(self.view)

    def drain(self, timeout: float) -> bool:
        self.drains.append(timeout)
        if self._idle:
            return True
        if len(self.drains) >= self._finish_after:
            self.view = {**self.view, "status": "PASSED"}
            return True
        return False  # still running when `timeout` ran out


@pytest.fixture()
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(cli_check.time, "sleep", slept.append)
    return slept


def test_the_run_is_read_again_as_soon_as_the_invoker_is_done_without_sleeping(sleeps):
    session = FakeSession(finish_after=2)
    view = cli_check.follow(session, [dict(session.view)], live=False, poll_s=0.2)[0]
    assert view["status"] == "PASSED"
    assert sleeps == []  # the wait was the invoker's: it ended when the work did
    assert session.drains[0] == pytest.approx(0.2)  # while work runs, the store is read every poll_s at most


def test_an_idle_invoker_with_the_run_still_running_is_not_a_busy_loop(sleeps):
    # nothing runs in the invoker (the run waits for its deadline's finalizer, say): each wait ends at once,
    # so follow sleeps the rest of poll_s before it reads the store again
    session = FakeSession(idle=True, ends_after_reads=7)
    view = cli_check.follow(session, [dict(session.view)], live=False, poll_s=0.2)[0]
    assert view["status"] == "PASSED"
    assert len(sleeps) >= 2 and all(0 < pause <= 0.2 for pause in sleeps)
    assert session.reads <= 2 * len(sleeps) + 3


def test_a_run_past_its_deadline_is_not_waited_for(sleeps):
    session = FakeSession(idle=True)
    session.view["deadline"] = time.time() - 5
    view = cli_check.follow(session, [dict(session.view)], live=False, poll_s=0.2)[0]
    assert view["status"] == "RUNNING" and sleeps == []


def test_a_run_read_after_the_invoker_ended_is_read_once(sleeps):
    # the run as started is RUNNING with every item PENDING: nothing to read before the first wait, and what
    # is read once the invoker has nothing running is final
    session = FakeSession(finish_after=1)
    view = cli_check.follow(session, [dict(session.view)], live=False, poll_s=0.2)[0]
    assert view["status"] == "PASSED" and session.reads == 1 and len(session.drains) == 1
