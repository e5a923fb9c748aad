"""Translated responses kept in Redis, shared by every proxyd instance behind a load balancer.

Redis fits what the store needs: a record put, read and deleted by its id; expiry by age, which
is Redis's own (each record is set with ``PX``); a size bound, kept in the same atomic script as
the put (an index of ids by time and their sizes: once the records pass ``store.max_mb``, the
oldest go); and a read right after a write from any other instance, which one Redis primary
gives. The script reads Redis's clock, so instances whose clocks differ age records alike.

A store that is down never stops proxyd: it starts without it, each call that fails raises
:class:`~proxyd.store.base.StoreDown` (answered as a 503 naming the store where a request needs it), and the client
(redis-py) reconnects on the next call.
"""

from __future__ import annotations

from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from proxyd import jsoncodec
from proxyd.config.settings import MiB
from proxyd.config.settings import Store as StoreConfig
from proxyd.store.base import UNOWNED, LastCall, Record
from proxyd.store.where import shown

# One hash tag: every key a script touches is in one slot, as a Redis Cluster would need.
RECORD = "{proxyd}:response:"
INDEX, SIZES, TOTAL = "{proxyd}:responses:by-time", "{proxyd}:responses:sizes", "{proxyd}:responses:bytes"
_KEYS = [INDEX, SIZES, TOTAL]

_FORGET = """
local function forget(gone)
  local size = tonumber(redis.call('HGET', KEYS[2], gone) or '0')
  redis.call('HDEL', KEYS[2], gone)
  redis.call('ZREM', KEYS[1], gone)
  return tonumber(redis.call('DECRBY', KEYS[3], size))
end
"""
# KEYS: index, sizes, total. ARGV: record key prefix, id, payload, max age (ms), max bytes.
PUT_SCRIPT = (
    _FORGET
    + """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local id, payload, max_age, max_bytes = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local size = string.len(payload)
local before = tonumber(redis.call('HGET', KEYS[2], id) or '0')
redis.call('SET', ARGV[1] .. id, payload, 'PX', max_age)
redis.call('HSET', KEYS[2], id, size)
redis.call('ZADD', KEYS[1], now, id)
local total = tonumber(redis.call('INCRBY', KEYS[3], size - before))
-- records past their age expired by themselves: take them off the books, a bounded few a put
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - max_age, 'LIMIT', 0, 100)) do
  total = forget(gone)
end
while total > max_bytes do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not oldest or oldest == id then break end
  redis.call('DEL', ARGV[1] .. oldest)
  total = forget(oldest)
end
return total
"""
)
# KEYS: index, sizes, total. ARGV: record key prefix, id. Returns 1 when the record was there.
DELETE_SCRIPT = (
    _FORGET
    + """
local deleted = redis.call('DEL', ARGV[1] .. ARGV[2])
forget(ARGV[2])
return deleted
"""
)


def redis_client(url: str, name: str) -> Redis:
    """A client of the shared Redis, as every part of proxyd that uses it makes one. Short
    timeouts and one quick retry: a store that is down costs a request a few seconds at most,
    and a restarted one is reconnected on the retry."""
    return Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=2.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
        health_check_interval=15,
        client_name=name,
    )


class RedisStore:
    def __init__(self, url: str, config: StoreConfig) -> None:
        self.where = shown(url)
        self._url = url
        self._max_age_ms = max(1, int(config.max_age_days * 86_400_000))
        self._max_bytes = int(config.max_mb * MiB)
        self._redis: Redis | None = None
        self._last = LastCall("redis", self.where)

    async def open(self) -> None:
        self._redis = redis_client(self._url, "proxyd")
        # EVALSHA, with the script sent again when Redis answers NOSCRIPT (after its restart).
        self._put_script = self._redis.register_script(PUT_SCRIPT)
        self._delete_script = self._redis.register_script(DELETE_SCRIPT)
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:  # proxyd starts anyway; the next call reconnects
            down = self._last.failed(exc)
            structlog.get_logger("proxyd").warning("store_unreachable", store=self.where, error=down.detail)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def get(self, response_id: str) -> Record | None:
        raw = await self._call(self._conn().get, RECORD + response_id)
        if raw is None:
            return None
        doc = jsoncodec.loads(raw)
        return Record(doc["input"], doc["response"], doc.get("owner") or UNOWNED)

    async def put(self, input_items: list[dict[str, Any]], response: dict[str, Any], owner: str = UNOWNED) -> None:
        """Return once the record is in Redis: from then on every instance reads it."""
        payload = jsoncodec.dumps({"input": input_items, "response": response, "owner": owner})
        args = [RECORD, response["id"], payload, self._max_age_ms, self._max_bytes]
        await self._call(self._put_script, _KEYS, args)

    async def delete(self, response_id: str) -> bool:
        return bool(await self._call(self._delete_script, _KEYS, [RECORD, response_id]))

    def describe(self) -> dict[str, Any]:
        return self._last.describe()

    async def _call(self, method: Any, *args: Any) -> Any:
        try:
            done = await method(*args)
        except (RedisError, OSError) as exc:
            raise self._last.failed(exc) from exc
        self._last.ok()
        return done

    def _conn(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the response store is not open")
        return self._redis
