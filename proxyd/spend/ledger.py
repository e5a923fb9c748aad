"""The usage ledger: requests, tokens by kind and cost, per day, client, provider and model.

A request adds its counts to a row in memory (:meth:`Ledger.record`: a few additions, on the
request path); every ``ledger.flush_s`` the rows go to the store in one write, off the request
path (:meth:`Ledger.run`): SQLite on this machine (:mod:`.ledger_sqlite`) or the shared Redis
(:mod:`.ledger_redis`), where every instance's counts add up. A crash loses at most the last
``flush_s`` of counts; a store that is down keeps them in memory and tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from aiohttp import web

from proxyd.spend.rows import COUNTS, Row, day_of, merge_rows
from proxyd.usage import Usage

MAX_PENDING = 100_000  # rows held while the store is down; past that the oldest day's go first


class LedgerStore(Protocol):
    where: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def add(self, rows: list[Row]) -> None:
        """Add the rows' counts to what is stored (atomically: all or none)."""
        ...

    async def rows(self, since: str) -> list[Row]:
        """Every stored row from day ``since`` on."""
        ...


class Ledger:
    def __init__(self, store: LedgerStore, flush_s: float, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.flush_s = flush_s
        self._clock = clock
        self._pending: dict[tuple[str, str, str, str], list[int]] = {}
        self._log = structlog.get_logger("proxyd")

    def record(self, client: str, provider: str, model: str, usage: Usage | None, cost: int | None) -> None:
        key = (day_of(self._clock()), client, provider, model)
        counts = self._pending.get(key)
        if counts is None:
            counts = self._pending[key] = [0] * len(COUNTS)
        counts[0] += 1
        if usage is not None:
            counts[1] += usage.prompt
            counts[2] += usage.completion
            counts[3] += usage.reasoning
            counts[4] += usage.cache_read
            counts[5] += usage.cache_write
            if cost is None:
                counts[7] += 1  # tokens with no price: counted, and said to be unpriced
        if cost is not None:
            counts[6] += cost

    def pending(self) -> list[Row]:
        return [Row(*key, tuple(counts)) for key, counts in self._pending.items()]

    async def flush(self) -> None:
        if not self._pending:
            return
        taken, self._pending = self._pending, {}
        rows = [Row(*key, tuple(counts)) for key, counts in taken.items()]
        try:
            await self.store.add(rows)
        except Exception as exc:  # a store that is down: keep the counts and try again
            self._log.warning("ledger_write_failed", store=self.store.where, error=f"{type(exc).__name__}: {exc}")
            self._merge(taken)

    async def run(self) -> None:
        """Flush every ``flush_s`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(self.flush_s)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())

    async def rows(self, since: str) -> list[Row]:
        """What is stored and what is not yet, from day ``since`` on."""
        stored = await self.store.rows(since)
        return merge_rows([*stored, *(r for r in self.pending() if r.day >= since)])

    def _merge(self, taken: dict[tuple[str, str, str, str], list[int]]) -> None:
        for key, counts in taken.items():
            mine = self._pending.setdefault(key, [0] * len(COUNTS))
            for i, n in enumerate(counts):
                mine[i] += n
        while len(self._pending) > MAX_PENDING:
            del self._pending[min(self._pending)]


LEDGER = web.AppKey("ledger", Ledger)
