"""What each client and each provider spent this UTC day and month, for budgets.

:class:`MemorySpend` keeps the counts in this process, seeded at start from the ledger (so a
restart forgets nothing that was flushed). :class:`RedisSpend` keeps them in the shared Redis,
one hash a period (``{proxyd}:spend:2026-12-06``, ``{proxyd}:spend:2026-12``), each request's cost
added with HINCRBY the moment it ends, so every instance checks against every instance's spend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis

from proxyd.spend.rows import Row, periods

PREFIX = "{proxyd}:spend:"
HELD, HELD_S = "{proxyd}:held:", 600  # a client's budget held by requests in flight, on every instance
DAY_S, MONTH_S = 3 * 86_400, 40 * 86_400  # how long a day's and a month's hash outlive their period


class SpendCounts(Protocol):
    async def spent(self, kind: str, name: str, now: float) -> tuple[int, int]:
        """(this day's, this month's) micro-dollars of a ``client`` or ``provider``."""
        ...

    def add(
        self, kind: str, name: str, micros: int, now: float, after: Callable[[], None] | None = None, release: int = 0
    ) -> None:
        """Count a request's cost, and give back what it reserved (in one step, so no check sees
        neither); ``after`` runs once the count is in (the next request sees it)."""
        ...

    async def hold(self, client: str, micros: int, now: float) -> tuple[int, int, int]:
        """Hold ``micros`` of the client's budget for a request in flight; in the same step, what
        it spent this day and month and the total now held (one snapshot: a request that ends
        meanwhile moves its cost from held to spent at once)."""
        ...

    async def unreserve(self, client: str, micros: int) -> None: ...

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` off the request path (kept until done)."""
        ...


class _Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            structlog.get_logger("proxyd").warning("spend_count_failed", error=repr(task.exception())[:300])

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class MemorySpend(_Background):
    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[tuple[str, str, str], int] = {}
        self._held: dict[str, int] = {}

    def seed(self, rows: list[Row], now: float) -> None:
        """The ledger's costs of this day and month, per client and provider."""
        day, month = periods(now)
        for row in rows:
            cost = row.get("cost_micros")
            for kind, name in (("client", row.client), ("provider", row.provider)):
                if row.day == day:
                    self._bump(kind, name, day, cost)
                if row.day.startswith(month):
                    self._bump(kind, name, month, cost)

    async def spent(self, kind: str, name: str, now: float) -> tuple[int, int]:
        day, month = periods(now)
        return self._counts.get((kind, name, day), 0), self._counts.get((kind, name, month), 0)

    def add(
        self, kind: str, name: str, micros: int, now: float, after: Callable[[], None] | None = None, release: int = 0
    ) -> None:
        if micros:
            day, month = periods(now)
            self._bump(kind, name, day, micros)
            self._bump(kind, name, month, micros)
        if release:
            self._held[name] = max(self._held.get(name, 0) - release, 0)
        if after is not None:
            after()

    async def hold(self, client: str, micros: int, now: float) -> tuple[int, int, int]:
        self._held[client] = self._held.get(client, 0) + micros
        day, month = await self.spent("client", client, now)
        return day, month, self._held[client]

    async def unreserve(self, client: str, micros: int) -> None:
        self._held[client] = max(self._held.get(client, 0) - micros, 0)

    def _bump(self, kind: str, name: str, period: str, micros: int) -> None:
        key = (kind, name, period)
        self._counts[key] = self._counts.get(key, 0) + micros


class RedisSpend(_Background):
    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self._redis = redis

    async def spent(self, kind: str, name: str, now: float) -> tuple[int, int]:
        field = f"{kind}:{name}"
        async with self._redis.pipeline(transaction=False) as batch:
            for period in periods(now):
                batch.hget(PREFIX + period, field)
            day, month = await batch.execute()
        return int(day or 0), int(month or 0)

    def add(
        self, kind: str, name: str, micros: int, now: float, after: Callable[[], None] | None = None, release: int = 0
    ) -> None:
        if not micros and not release:
            if after is not None:
                after()
            return
        self.later(self._add(kind, name, micros, periods(now), after, release))

    async def _add(
        self, kind: str, name: str, micros: int, at: tuple[str, str], after: Callable[[], None] | None, release: int
    ) -> None:  # fmt: skip
        try:
            async with self._redis.pipeline(transaction=True) as tx:
                for period, keep_s in zip(at, (DAY_S, MONTH_S), strict=True) if micros else ():
                    tx.hincrby(PREFIX + period, f"{kind}:{name}", micros)
                    tx.expire(PREFIX + period, keep_s)
                if release:
                    tx.decrby(HELD + name, release)
                await tx.execute()
        finally:
            if after is not None:
                after()

    async def hold(self, client: str, micros: int, now: float) -> tuple[int, int, int]:
        async with self._redis.pipeline(transaction=True) as tx:
            tx.incrby(HELD + client, micros)
            tx.expire(HELD + client, HELD_S)  # an instance that died holding some gives it back in time
            for period in periods(now):
                tx.hget(PREFIX + period, f"client:{client}")
            held, _, day, month = await tx.execute()
        return int(day or 0), int(month or 0), int(held)

    async def unreserve(self, client: str, micros: int) -> None:
        await self._redis.decrby(HELD + client, micros)
