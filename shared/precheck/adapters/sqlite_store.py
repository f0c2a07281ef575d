"""The embedded result store: one SQLite file, safe for the threads of one process and for several processes."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .. import records
from ..models import Instance, Outcome, Run
from ..ports import Recorded, RunRecord, StoreError
from .sqlite_marks import END_MARKS_SCHEMA, SqliteEndMarks

#: how long an instance's runs are kept, as the Tablestore runs table's TTL (`tablestore.schema`, not imported
#: here: it would import the Tablestore SDK)
DEFAULT_RUNS_TTL_DAYS = 90

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    body        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    instance_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (instance_id, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outcomes (
    instance_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    item        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (instance_id, run_id, item)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    key         TEXT PRIMARY KEY,
    claimed_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS current_runs (
    instance_id TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    body        TEXT NOT NULL
) WITHOUT ROWID;
"""


def path_of(url: str) -> str:
    """The file of `sqlite:///absolute/path.db`, `sqlite:relative/path.db` or `sqlite::memory:`."""
    path = url.split(":", 1)[1]
    if path.startswith("//"):
        path = path[2:]
        if path.startswith("//"):  # sqlite:////abs/path, SQLAlchemy's spelling of an absolute path
            path = "/" + path.lstrip("/")
    return path or ":memory:"


class SqliteResultStore(SqliteEndMarks):  # the runs' "ended" marks: sqlite_marks
    def __init__(self, path: str | Path, runs_ttl_days: float | None = DEFAULT_RUNS_TTL_DAYS):
        self.path = str(path)
        self.runs_ttl_days = runs_ttl_days
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 10000")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across crashes of the process
        self._db.executescript(SCHEMA + END_MARKS_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> SqliteResultStore:
        return cls(path_of(url))

    def _run(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._db.execute(sql, params)
        except sqlite3.Error as error:
            raise StoreError("sqlite", f"SQLite store failed: {error}") from None

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise StoreError("sqlite", f"SQLite store failed: {error}") from None

    def save_instance(self, instance: Instance) -> None:
        self._run("INSERT OR REPLACE INTO instances (instance_id, body) VALUES (?, ?)",
                  (instance.instance_id, instance.model_dump_json()))

    def get_instance(self, instance_id: str) -> Instance | None:
        rows = self._all("SELECT body FROM instances WHERE instance_id = ?", (instance_id,))
        return records.read_instance(rows[0][0], instance_id) if rows else None

    def list_instances(self, after: str | None, limit: int) -> tuple[list[Instance], str | None]:
        rows = self._all("SELECT instance_id, body FROM instances WHERE instance_id > ? ORDER BY instance_id LIMIT ?",
                         (after or "", limit + 1))
        page = records.read_instances(rows[:limit])  # an unreadable instance is logged and left out
        return page, (rows[limit - 1][0] if len(rows) > limit else None)

    def create_run(self, run: Run) -> None:
        """Store the run once; the instance's runs more than `runs_ttl_days` older than it go (as Tablestore's
        TTL drops them: history is kept 90 days by default). Run ids begin with their time (`new_run_id`)."""
        self._run("INSERT OR IGNORE INTO runs (instance_id, run_id, body) VALUES (?, ?, ?)",
                  (run.instance_id, run.run_id, run.model_dump_json()))
        head = run.run_id.split("-", 1)[0]
        if self.runs_ttl_days and head.isdigit() and len(head) == 13:
            cutoff = f"{int(head) - int(self.runs_ttl_days * 86_400_000):013d}"
            if not cutoff.startswith("-"):
                self._run("DELETE FROM outcomes WHERE instance_id = ? AND run_id < ?", (run.instance_id, cutoff))
                self._run("DELETE FROM runs WHERE instance_id = ? AND run_id < ?", (run.instance_id, cutoff))

    def _with_outcomes(self, instance_id: str, run_row: list[tuple]) -> RunRecord | None:
        """The run and its outcomes; a row that does not validate is reported for its run (`records`)."""
        if not run_row:
            return None
        run_id, body = run_row[0]
        rows = self._all("SELECT item, body FROM outcomes WHERE instance_id = ? AND run_id = ?", (instance_id, run_id))
        outcomes = {item: records.read_outcome(text, item, run_id) for item, text in rows}
        return records.read_run(body, instance_id, run_id, outcomes)

    def get_run(self, instance_id: str, run_id: str) -> RunRecord | None:
        return self._with_outcomes(instance_id, self._all(
            "SELECT run_id, body FROM runs WHERE instance_id = ? AND run_id = ?", (instance_id, run_id)))

    def run_complete(self, instance_id: str, run_id: str) -> tuple[Run, bool] | None:
        rows = self._all("SELECT body FROM runs WHERE instance_id = ? AND run_id = ?", (instance_id, run_id))
        if not rows:
            return None
        run = Run.model_validate_json(rows[0][0])
        have = {item for (item,) in self._all("SELECT item FROM outcomes WHERE instance_id = ? AND run_id = ?",
                                              (instance_id, run_id))}
        return run, set(run.items) <= have

    def latest_run(self, instance_id: str) -> RunRecord | None:
        return self._with_outcomes(instance_id, self._all(
            "SELECT run_id, body FROM runs WHERE instance_id = ? ORDER BY run_id DESC LIMIT 1", (instance_id,)))

    def list_runs(self, instance_id: str, before: str | None, limit: int) -> tuple[list[RunRecord], str | None]:
        """Runs of `instance_id` older than run `before` (None: from the newest), newest first; two reads."""
        limit = max(1, int(limit))
        if before is None:
            rows = self._all("SELECT run_id, body FROM runs WHERE instance_id = ? ORDER BY run_id DESC LIMIT ?",
                             (instance_id, limit + 1))
        else:
            rows = self._all("SELECT run_id, body FROM runs WHERE instance_id = ? AND run_id < ? "
                             "ORDER BY run_id DESC LIMIT ?", (instance_id, before, limit + 1))
        page = self._records({instance_id: rows[:limit]})[instance_id]
        return page, (rows[limit - 1][0] if len(rows) > limit else None)

    def latest_runs(self, instance_ids: Sequence[str], count: int) -> dict[str, list[RunRecord]]:
        """The `count` latest runs of each instance, newest first: two reads for the whole page."""
        ids = list(dict.fromkeys(instance_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._all(f"SELECT instance_id, run_id, body FROM (SELECT instance_id, run_id, body, ROW_NUMBER() "
                         f"OVER (PARTITION BY instance_id ORDER BY run_id DESC) AS n FROM runs "
                         f"WHERE instance_id IN ({marks})) WHERE n <= ? ORDER BY instance_id, run_id DESC",
                         (*ids, max(1, int(count))))
        by_instance: dict[str, list[tuple]] = {instance_id: [] for instance_id in ids}
        for instance_id, run_id, body in rows:
            by_instance[instance_id].append((run_id, body))
        return self._records(by_instance)

    def _records(self, runs: dict[str, list[tuple]]) -> dict[str, list[RunRecord]]:
        """The (run_id, body) rows of each instance as records with their outcomes (one read for all)."""
        keys = [(instance_id, run_id) for instance_id, rows in runs.items() for run_id, _ in rows]
        outcomes: dict[tuple[str, str], dict[str, Outcome]] = {key: {} for key in keys}
        if keys:
            where = " OR ".join(["(instance_id = ? AND run_id = ?)"] * len(keys))
            for instance_id, run_id, item, text in self._all(
                    f"SELECT instance_id, run_id, item, body FROM outcomes WHERE {where}",
                    tuple(value for key in keys for value in key)):
                outcomes[(instance_id, run_id)][item] = records.read_outcome(text, item, run_id)
        return {instance_id: [records.read_run(body, instance_id, run_id, outcomes[(instance_id, run_id)])
                              for run_id, body in rows] for instance_id, rows in runs.items()}

    def record_outcome(self, instance_id: str, run_id: str, outcome: Outcome) -> Recorded:
        """First write wins, only for a run that exists and an item it has; whether the run is complete is
        counted in the same transaction (BEGIN IMMEDIATE: atomic across the processes sharing the file too)."""
        body = records.encode_outcome(outcome)
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    rows = self._db.execute("SELECT body FROM runs WHERE instance_id = ? AND run_id = ?",
                                            (instance_id, run_id)).fetchall()
                    if not rows:
                        return Recorded(stored=False, missing="run")
                    try:
                        items = set(Run.model_validate_json(rows[0][0]).items)
                    except ValueError:
                        items = set()
                    if outcome.item not in items:
                        return Recorded(stored=False, missing="item")
                    stored = self._db.execute(
                        "INSERT OR IGNORE INTO outcomes (instance_id, run_id, item, body) VALUES (?, ?, ?, ?)",
                        (instance_id, run_id, outcome.item, body)).rowcount == 1
                    have = {item for (item,) in self._db.execute(
                        "SELECT item FROM outcomes WHERE instance_id = ? AND run_id = ?", (instance_id, run_id))}
                    return Recorded(stored=stored, complete=items <= have)
                finally:
                    self._db.execute("COMMIT")
        except sqlite3.Error as error:
            raise StoreError("sqlite", f"SQLite store failed: {error}") from None

    def current_run(self, instance_id: str) -> Run | None:
        rows = self._all("SELECT body FROM current_runs WHERE instance_id = ?", (instance_id,))
        return Run.model_validate_json(rows[0][0]) if rows else None

    def claim_run(self, run: Run, replacing: str | None) -> bool:
        # compare-and-set in one statement (atomic in SQLite, across the processes sharing the file too)
        if replacing is None:
            cursor = self._run("INSERT OR IGNORE INTO current_runs (instance_id, run_id, body) VALUES (?, ?, ?)",
                               (run.instance_id, run.run_id, run.model_dump_json()))
        else:
            cursor = self._run("UPDATE current_runs SET run_id = ?, body = ? WHERE instance_id = ? AND run_id = ?",
                               (run.run_id, run.model_dump_json(), run.instance_id, replacing))
        return cursor.rowcount == 1

    def claim_event(self, key: str) -> bool:
        cursor = self._run("INSERT OR IGNORE INTO events (key, claimed_at) VALUES (?, ?)", (key, time.time()))
        return cursor.rowcount == 1

    def event_claimed(self, key: str) -> bool:
        return bool(self._all("SELECT 1 FROM events WHERE key = ?", (key,)))

    def close(self) -> None:
        with self._lock:
            self._db.close()
