"""The usage ledger in a SQLite file on this machine.

One table keyed by (day, client, provider, model); a flush adds its rows' counts in one
transaction (an upsert per row), so a crash leaves the file as the last flush left it. WAL
lets ``proxyd usage`` read while proxyd writes, and ``serve --workers N`` share the file (each
worker's flush waits its turn). Rows older than ``ledger.keep_days`` go at open.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from proxyd.spend.rows import COUNTS, Row, day_of

T = TypeVar("T")
_COLUMNS = ", ".join(COUNTS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS usage (
  day TEXT NOT NULL, client TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
  {", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in COUNTS)},
  PRIMARY KEY (day, client, provider, model)
)
"""
_MARKS = ", ".join("?" for _ in COUNTS)
_ADD = (
    f"INSERT INTO usage (day, client, provider, model, {_COLUMNS}) VALUES (?, ?, ?, ?, {_MARKS}) "
    f"ON CONFLICT (day, client, provider, model) DO UPDATE SET {', '.join(f'{c} = {c} + excluded.{c}' for c in COUNTS)}"
)


class SQLiteLedger:
    """One connection, used by one thread of its own: a flush is one transaction, with no
    connect and no new thread each time (a flush every two seconds stays cheap)."""

    def __init__(self, path: Path, keep_days: int) -> None:
        self.path = path
        self.where = str(path)
        self._keep_days = keep_days
        self._db: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proxyd-ledger")

    async def open(self) -> None:
        await self._run(lambda: self._open(prune=True))

    def _open(self, *, prune: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_SCHEMA)
        if prune:  # at start only: rows older than ledger.keep_days
            with db:
                db.execute("DELETE FROM usage WHERE day < ?", (day_of(time.time() - self._keep_days * 86_400),))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: a crash loses no committed flush
        return db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._thread.shutdown(wait=False)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def add(self, rows: list[Row]) -> None:
        await self._run(lambda: self._add(rows))

    def _add(self, rows: list[Row]) -> None:
        if self._db is None:
            self._open()
        assert self._db is not None
        try:
            with self._db:
                self._db.executemany(_ADD, [(r.day, r.client, r.provider, r.model, *r.counts) for r in rows])
        except sqlite3.Error:
            self._db.close()  # a file that moved or broke: open it anew on the next flush
            self._db = None
            raise

    async def rows(self, since: str) -> list[Row]:
        return await self._run(lambda: self._rows(since))

    def _rows(self, since: str) -> list[Row]:
        if not self.path.exists():
            return []
        db = self._connect()
        try:
            found = db.execute(
                f"SELECT day, client, provider, model, {_COLUMNS} FROM usage WHERE day >= ? ORDER BY day", (since,)
            ).fetchall()
        finally:
            db.close()
        return [Row(r[0], r[1], r[2], r[3], tuple(r[4:])) for r in found]
