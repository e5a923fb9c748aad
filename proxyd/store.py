"""Translated responses kept in SQLite (stdlib), for ``previous_response_id`` and
``GET/DELETE /v1/responses/{id}`` and ``.../input_items``.

Only responses proxyd made itself are here: those from chat-only providers. Each record holds
the full input the turn was answered from (earlier turns already expanded), its output items,
and the response object. SQLite calls run on one worker thread so the event loop never waits
on the disk. The store is bounded: records older than ``max_age_days`` go, then the oldest
until the file's records fit ``max_mb``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from proxyd.config import Store as StoreConfig

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    size INTEGER NOT NULL,
    input TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
"""


@dataclass(frozen=True)
class Record:
    input: list[dict[str, Any]]
    response: dict[str, Any]


def store_path(config: StoreConfig, env: Mapping[str, str]) -> Path:
    """``store.path``, else ``$XDG_STATE_HOME/proxyd/responses.sqlite3`` (``~/.local/state/...``)."""
    if config.path:
        return Path(config.path).expanduser()
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "state")
    return Path(state) / "proxyd" / "responses.sqlite3"


class ResponseStore:
    def __init__(self, path: Path, config: StoreConfig) -> None:
        self.path = path
        self._max_age_s = config.max_age_days * 86400
        self._max_bytes = int(config.max_mb * 1024 * 1024)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proxyd-store")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        await self._run(self._close)
        self._thread.shutdown(wait=True)

    async def get(self, response_id: str) -> Record | None:
        return await self._run(self._get, response_id)

    async def put(self, input_items: list[dict[str, Any]], response: dict[str, Any]) -> None:
        await self._run(self._put, input_items, response)

    async def delete(self, response_id: str) -> bool:
        return await self._run(self._delete, response_id)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    # --- on the store's thread ----------------------------------------------------------------

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self.path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
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
        row = self._conn().execute("SELECT input, response FROM responses WHERE id = ?", (response_id,)).fetchone()
        return Record(json.loads(row[0]), json.loads(row[1])) if row else None

    def _put(self, input_items: list[dict[str, Any]], response: dict[str, Any]) -> None:
        stored_input, stored_response = json.dumps(input_items), json.dumps(response)
        db, now = self._conn(), time.time()
        with db:
            db.execute(
                "INSERT OR REPLACE INTO responses (id, created_at, size, input, response) VALUES (?, ?, ?, ?, ?)",
                (response["id"], now, len(stored_input) + len(stored_response), stored_input, stored_response),
            )
            db.execute("DELETE FROM responses WHERE created_at < ?", (now - self._max_age_s,))
            total = db.execute("SELECT COALESCE(SUM(size), 0) FROM responses").fetchone()[0]
            while total > self._max_bytes:
                oldest = db.execute("SELECT id, size FROM responses ORDER BY created_at LIMIT 1").fetchone()
                if oldest is None or oldest[0] == response["id"]:
                    break
                db.execute("DELETE FROM responses WHERE id = ?", (oldest[0],))
                total -= oldest[1]

    def _delete(self, response_id: str) -> bool:
        db = self._conn()
        with db:
            return db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0
