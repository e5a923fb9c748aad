"""Session affinity in model groups: every turn of one conversation goes to the target that
answered its last turn, while that target is in the plan, so a local vLLM or llama.cpp keeps
the conversation's prefix in its cache.

The map is bounded (an LRU of :data:`MAX_SESSIONS`, each entry kept :data:`TTL_S` after its last
use); in team mode (``store.url``) it lives in the shared Redis, so two instances agree on a
conversation's target. Failover still moves a failed request on, and affinity follows the target
that answered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import structlog
from aiohttp import web

from proxyd.config.settings import Config, GroupTarget

if TYPE_CHECKING:  # redis-py is imported only in team mode
    from redis.asyncio import Redis

MAX_SESSIONS = 10_000
TTL_S = 3_600.0
PREFIX = "{proxyd}:affinity:"


class Affinity(Protocol):
    async def get(self, group: str, session: str) -> str | None: ...
    async def put(self, group: str, session: str, target: str) -> None: ...


class MemoryAffinity:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._map: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._clock = clock

    async def get(self, group: str, session: str) -> str | None:
        found = self._map.get((group, session))
        if found is None:
            return None
        target, at = found
        if self._clock() - at > TTL_S:
            del self._map[group, session]
            return None
        return target

    async def put(self, group: str, session: str, target: str) -> None:
        key = (group, session)
        self._map[key] = (target, self._clock())
        self._map.move_to_end(key)
        while len(self._map) > MAX_SESSIONS:
            self._map.popitem(last=False)


class RedisAffinity:
    """The map in the shared Redis: a key per conversation, expiring ``TTL_S`` after its last turn."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, group: str, session: str) -> str | None:
        try:
            found = await self._redis.get(PREFIX + group + "\t" + session)
        except Exception as exc:  # a store that is down: the plan's own order, as without affinity
            structlog.get_logger("proxyd").debug("affinity_unavailable", error=type(exc).__name__)
            return None
        return found.decode() if isinstance(found, bytes) else found

    async def put(self, group: str, session: str, target: str) -> None:
        try:
            await self._redis.set(PREFIX + group + "\t" + session, target, ex=int(TTL_S))
        except Exception as exc:
            structlog.get_logger("proxyd").debug("affinity_unavailable", error=type(exc).__name__)


def pinned_first(order: Sequence[GroupTarget], pinned: str | None) -> list[GroupTarget]:
    """The plan with the conversation's target first, when it is in the plan (ready, not resting)."""
    if pinned is None:
        return list(order)
    first = [t for t in order if t.key == pinned]
    return [*first, *(t for t in order if t.key != pinned)] if first else list(order)


async def open_affinity(config: Config) -> tuple[Affinity, Callable[[], Awaitable[None]]]:
    """The map where the config says: this process's, or the shared Redis in team mode."""
    if not config.store.url:

        async def nothing() -> None:
            return None

        return MemoryAffinity(), nothing
    from proxyd.store.shared import redis_client  # redis-py is imported only in team mode

    redis = redis_client(config.store.url, "proxyd-affinity")
    return RedisAffinity(redis), redis.aclose


AFFINITY = web.AppKey("affinity", Affinity)
