"""The gate's counters, where the config says: in this process (seeded from the ledger), or in
the shared Redis in team mode (``store.url``), so every instance counts against one budget and
one rate window."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from limits.aio.storage import MemoryStorage, RedisStorage

from proxyd.config.settings import Config
from proxyd.metrics import Metrics
from proxyd.spend.gate import Gate
from proxyd.spend.ledger import Ledger
from proxyd.spend.rows import periods
from proxyd.spend.spend_counts import MemorySpend, RedisSpend

Close = Callable[[], Awaitable[None]]


async def open_gate(config: Config, ledger: Ledger | None, metrics: Metrics) -> tuple[Gate, Close]:
    url = config.store.url
    if url:
        from proxyd.store.shared import redis_client  # redis-py is imported only in team mode

        redis = redis_client(url, "proxyd-gate")
        shared = RedisSpend(redis)
        storage = RedisStorage("async+" + url, implementation="redispy", key_prefix="{proxyd}:limits")

        async def close_shared() -> None:
            await shared.drain()
            await redis.aclose()

        return Gate(storage, shared, metrics), close_shared
    counts = MemorySpend()
    if ledger is not None:  # what was spent this month before a restart still counts
        month_start = periods(time.time())[1] + "-01"
        counts.seed(await ledger.rows(month_start), time.time())

    async def close_local() -> None:
        await counts.drain()

    return Gate(MemoryStorage(), counts, metrics), close_local
