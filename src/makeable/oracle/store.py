"""The run store: a SQLite file ``run.db`` in the run folder.

Tables:
    calls: one row per counted oracle call — ``idx`` (1-based call number), ``smiles``
        (canonical), ``score``, ``valid`` (the objective evaluated it), ``eval_s`` (seconds
        spent scoring it), ``t_wall`` (UNIX time when it was recorded).
    meta: key/value text (the run's config as JSON, status).
    events: optimizer records per round (JSON payloads), e.g. the best molecules per generation.

Writes are committed per scored batch in WAL mode, so a kill -9 loses at most the batch being
scored — which was never counted, and is scored (once) again on resume.

A job that writes a run opens its store ``exclusive``: an advisory lock on ``run.lock`` in the
run folder (released on :meth:`RunStore.close` or when the process ends, even by kill -9), so
two processes can never run — and count calls into — the same folder at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from makeable.run_folder import RunInUseError, lock_folder
from makeable.settings import describe_diff, settings_diff

__all__ = ["CallRecord", "ParamsChangedError", "RunInUseError", "RunStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    idx INTEGER PRIMARY KEY,
    smiles TEXT NOT NULL UNIQUE,
    score REAL NOT NULL,
    valid INTEGER NOT NULL,
    eval_s REAL NOT NULL,
    t_wall REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n_calls INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class CallRecord:
    idx: int
    smiles: str
    score: float
    valid: bool
    eval_s: float


class ParamsChangedError(ValueError):
    """A run folder is resumed with other optimizer parameters than it was made with."""


class RunStore:
    """Append-only record of counted oracle calls and run metadata.

    Args:
        path: the ``run.db`` file (its folder is created).
        exclusive: hold the run folder's lock while open (for the job that writes the run).

    Raises:
        RunInUseError: ``exclusive`` and another process holds the lock.
    """

    def __init__(self, path: str | Path, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = lock_folder(self.path.parent) if exclusive else None
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.commit()

    # -- calls ---------------------------------------------------------------------------
    def add_calls(self, records: Iterable[CallRecord]) -> None:
        now = time.time()
        with self._db:
            self._db.executemany(
                "INSERT INTO calls (idx, smiles, score, valid, eval_s, t_wall) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.idx, r.smiles, r.score, int(r.valid), r.eval_s, now) for r in records],
            )

    def calls(self) -> list[CallRecord]:
        rows = self._db.execute(
            "SELECT idx, smiles, score, valid, eval_s FROM calls ORDER BY idx"
        ).fetchall()
        return [CallRecord(i, s, sc, bool(v), e) for i, s, sc, v, e in rows]

    def n_calls(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    # -- metadata and events -------------------------------------------------------------
    def get_meta(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def finished(self, budget: int) -> bool:
        """Whether the run's optimizer already finished with this budget (see
        :meth:`mark_finished`): re-opening such a run only reads its results."""
        return bool(self.get_meta("finished_budget") == budget)

    def mark_finished(self, budget: int) -> None:
        """Record that the optimizer finished with ``budget``."""
        self.set_meta("finished_budget", budget)

    def pin_params(self, params: dict[str, Any], key: str = "optimizer_params") -> None:
        """Record the optimizer's effective parameters (defaults included) under ``key``, or,
        when the run already recorded them, refuse to go on with other ones — a default that
        changed between versions would otherwise mix two settings into one resumed run.
        Parameters the record lacks (added to the optimizer since) are accepted and recorded.

        Raises:
            ParamsChangedError: the recorded parameters differ; the message lists the keys.
        """
        effective = json.loads(json.dumps(params, default=str))
        recorded = self.get_meta(key) or {}
        # a parameter the record lacks was added since the run was made: not a change (new
        # parameters keep the old behaviour at their defaults)
        diff = settings_diff(recorded, effective, keys=recorded)
        if diff:
            raise ParamsChangedError(
                f"the run folder was made with other optimizer parameters ({describe_diff(diff)}); "
                "pass the recorded values with --param to resume it, or use another --out"
            )
        self.set_meta(key, effective)

    def add_event(self, n_calls: int, kind: str, payload: dict[str, Any]) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO events (n_calls, kind, payload) VALUES (?, ?, ?)",
                (n_calls, kind, json.dumps(payload)),
            )

    def events(self, kind: str | None = None) -> list[tuple[int, str, dict[str, Any]]]:
        query = "SELECT n_calls, kind, payload FROM events"
        args: tuple[Any, ...] = ()
        if kind is not None:
            query += " WHERE kind = ?"
            args = (kind,)
        rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [(n, k, json.loads(p)) for n, k, p in rows]

    def last_event_id(self) -> int:
        """The id of the last recorded event (0 when there is none)."""
        row = self._db.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    def keep_events_to(self, event_id: int) -> None:
        """Drop the events recorded after the one with ``event_id``."""
        with self._db:
            self._db.execute("DELETE FROM events WHERE id > ?", (event_id,))

    def clear_events_after(self, n_calls: int) -> None:
        """Drop events recorded beyond ``n_calls`` (used when a replayed run re-records them)."""
        with self._db:
            self._db.execute("DELETE FROM events WHERE n_calls > ?", (n_calls,))

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None
