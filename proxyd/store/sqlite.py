"""Translated responses kept in SQLite (stdlib), for ``previous_response_id`` and
``GET/DELETE /v1/responses/{id}`` and ``.../input_items``.

Only responses proxyd made itself are here: those from chat-only providers. Each record holds
the full input the turn was answered from (earlier turns already expanded), its output items,
and the response object. SQLite calls run on one worker thread so the event loop never waits
on the disk.

Writes are group commits: one write job is in flight at a time, and the puts that arrive
meanwhile go together in the next one, in one transaction. Under load that is one thread hop
and one commit for many streams, which is most of what a put costs.

The store is bounded: records older than ``max_age_days`` go, then the oldest until the file's
records fit ``max_mb``. Sweeps scan the table, so a put does not run them: records age out once
a minute (or a tenth of ``max_age_days``, if sooner), and the size is recounted then; between
sweeps a running count (puts added, deletions taken off) says when the oldest must go. Under
``--workers`` each worker counts its own puts between recounts, so the file may overshoot for
up to a minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from proxyd.config.loader import state_dir
from proxyd.config.settings import Store as StoreConfig
from proxyd.store.base import UNOWNED, LastCall, Record

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    size INTEGER NOT NULL,
    input TEXT NOT NULL,
    response TEXT NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
"""


def store_path(config: StoreConfig, env: Mapping[str, str]) -> Path:
    """``store.path``, else ``$XDG_STATE_HOME/proxyd/responses.sqlite3`` (``~/.local/state/...``)."""
    if config.path:
        return Path(config.path).expanduser()
    return state_dir(env) / "responses.sqlite3"


class StoreError(Exception):
    """The store cannot be opened; the message says where and what to do."""


class SQLiteStore:
    def __init__(self, path: Path, config: StoreConfig, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.where = str(path)
        self._last = LastCall("sqlite", self.where)
        self._clock = clock  # Unix time; a test hands in its own
        self._max_age_s = config.max_age_days * 86400
        self._max_bytes = int(config.max_mb * 1024 * 1024)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proxyd-store")
        self._db: sqlite3.Connection | None = None
        self._total = 0  # bytes of records, as counted at the last sweep plus puts since
        self._sweep_every = min(60.0, self._max_age_s / 10)
        self._next_sweep = 0.0
        self._batch: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = []
        self._batch_done: asyncio.Future[None] | None = None  # the puts in _batch wait on it
        self._inflight: asyncio.Future[None] | None = None  # the write job running now

    async def open(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._open)
        except (OSError, sqlite3.Error) as exc:  # a start-up problem the user can fix: no traceback
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(
                f"cannot open the response store {self.path}: {reason}; make its directory writable, set "
                "store.path to a file proxyd can write, or turn the store off with store.enabled: false"
            ) from None

    async def close(self) -> None:
        while self._inflight is not None:  # puts still waiting are written first
            await asyncio.wait([self._inflight])
        await self._run(self._close)
        self._thread.shutdown(wait=True)

    async def get(self, response_id: str) -> Record | None:
        return await self._run(self._get, response_id)

    def describe(self) -> dict[str, Any]:
        return self._last.describe()

    async def put(self, input_items: list[dict[str, Any]], response: dict[str, Any], owner: str = UNOWNED) -> None:
        """Return once the record is committed (with whatever else was waiting to be)."""
        self._batch.append((input_items, response, owner))
        if self._batch_done is None:
            self._batch_done = asyncio.get_running_loop().create_future()
        done = self._batch_done
        if self._inflight is None:
            self._ship()
        try:
            await asyncio.shield(done)  # a cancelled request does not cancel the others' commit
        except (OSError, sqlite3.Error) as exc:
            raise self._last.failed(exc) from exc

    def _ship(self) -> None:
        batch, done = self._batch, self._batch_done
        assert done is not None  # a batch with puts in it always has its future
        self._batch, self._batch_done = [], None
        job = self._inflight = asyncio.get_running_loop().run_in_executor(self._thread, self._write, batch)
        job.add_done_callback(lambda finished: self._shipped(finished, done))

    def _shipped(self, job: asyncio.Future[None], done: asyncio.Future[None]) -> None:
        self._inflight = None
        if not done.done():
            error = job.exception()
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        if self._batch:
            self._ship()

    async def delete(self, response_id: str) -> bool:
        return await self._run(self._delete, response_id)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            done = await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
        except (OSError, sqlite3.Error) as exc:  # a full or broken disk: said as the store's failure
            raise self._last.failed(exc) from exc
        self._last.ok()
        return done

    # --- on the store's thread ----------------------------------------------------------------

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self.path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        if "owner" not in {row[1] for row in db.execute("PRAGMA table_info(responses)")}:
            db.execute("ALTER TABLE responses ADD COLUMN owner TEXT")  # a file an older proxyd made
        self._db = db
        os.chmod(self.path, 0o600)  # conversations are private

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the response store is not open")
        return self._db

    def _get(self, response_id: str) -> Record | None:
        row = (
            self._conn().execute("SELECT input, response, owner FROM responses WHERE id = ?", (response_id,)).fetchone()
        )
        return Record(json.loads(row[0]), json.loads(row[1]), row[2] or UNOWNED) if row else None

    def _write(self, batch: list[tuple[list[dict[str, Any]], dict[str, Any], str]]) -> None:
        db, now = self._conn(), self._clock()
        with db:
            for input_items, response, owner in batch:
                stored_input, stored_response = json.dumps(input_items), json.dumps(response)
                size = len(stored_input) + len(stored_response)
                db.execute(
                    "INSERT OR REPLACE INTO responses (id, created_at, size, input, response, owner) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (response["id"], now, size, stored_input, stored_response, owner),
                )
                self._total += size
            self._bound(db, now, batch[-1][1]["id"])

    def _bound(self, db: sqlite3.Connection, now: float, newest: str) -> None:
        if now >= self._next_sweep:
            db.execute("DELETE FROM responses WHERE created_at < ?", (now - self._max_age_s,))
            self._next_sweep = now + self._sweep_every
            self._total = self._counted(db)
        while self._total > self._max_bytes:
            oldest = db.execute("SELECT id, size FROM responses ORDER BY created_at LIMIT 1").fetchone()
            if oldest is None:  # the count was off (a replaced record): nothing is left to take
                self._total = 0
                break
            if oldest[0] == newest:
                break
            db.execute("DELETE FROM responses WHERE id = ?", (oldest[0],))
            self._total -= oldest[1]

    @staticmethod
    def _counted(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM responses").fetchone()[0])

    def _delete(self, response_id: str) -> bool:
        db = self._conn()
        with db:
            return db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0
