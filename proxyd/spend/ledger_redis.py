"""The usage ledger in the shared Redis (team mode): every instance's counts add up.

One hash per day (``{proxyd}:usage:YYYY-MM-DD``), a field per client, provider, model and
count; a flush is one MULTI/EXEC of HINCRBYs, so each instance's flush lands whole or not at
all, and Redis's own atomic increments add the instances up. Each day's hash expires
``ledger.keep_days`` after its last write.
"""

from __future__ import annotations

import datetime

from redis.asyncio import Redis

from proxyd.spend.rows import COUNTS, Row
from proxyd.store.shared import redis_client
from proxyd.store.where import shown

PREFIX = "{proxyd}:usage:"
_SEP = "\t"  # names are configured or listed names, which hold no tab
MAX_DAYS = 3_700  # a report reads at most this many days' hashes


class RedisLedger:
    def __init__(self, url: str, keep_days: int) -> None:
        self.where = shown(url)
        self._url = url
        self._keep_s = keep_days * 86_400
        self._redis: Redis | None = None

    async def open(self) -> None:
        self._redis = redis_client(self._url, "proxyd-ledger")

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def add(self, rows: list[Row]) -> None:
        redis = self._conn()
        async with redis.pipeline(transaction=True) as tx:
            for row in rows:
                key = PREFIX + row.day
                for name, count in zip(COUNTS, row.counts, strict=True):
                    if count:
                        tx.hincrby(key, _SEP.join((row.client, row.provider, row.model, name)), count)
                tx.expire(key, self._keep_s)
            await tx.execute()

    async def rows(self, since: str) -> list[Row]:
        redis = self._conn()
        days = _days_from(since)
        async with redis.pipeline(transaction=False) as batch:
            for day in days:
                batch.hgetall(PREFIX + day)
            found = await batch.execute()
        out: list[Row] = []
        for day, fields in zip(days, found, strict=True):
            by_key: dict[tuple[str, str, str], list[int]] = {}
            for field, value in fields.items():
                parts = (field.decode() if isinstance(field, bytes) else field).split(_SEP)
                if len(parts) != 4 or parts[3] not in COUNTS:
                    continue
                counts = by_key.setdefault((parts[0], parts[1], parts[2]), [0] * len(COUNTS))
                counts[COUNTS.index(parts[3])] = int(value)
            out += [Row(day, *key, tuple(counts)) for key, counts in sorted(by_key.items())]
        return out

    def _conn(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the ledger's store is not open")
        return self._redis


def _days_from(since: str) -> list[str]:
    start = datetime.date.fromisoformat(since)
    today = datetime.datetime.now(datetime.UTC).date()
    count = min(max((today - start).days + 1, 0), MAX_DAYS)
    return [(start + datetime.timedelta(days=i)).isoformat() for i in range(count)]
