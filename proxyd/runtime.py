"""The config in force, its routing table and its connection pools, swapped whole on reload.

A request reads :attr:`Runtime.current` once, after its body has arrived, and keeps that
:class:`Generation` to the end: a ten-minute stream finishes on the config it started with while
new requests see the new one. Each provider has its own connection pool (an aiohttp session);
a reload keeps the pool of every provider whose ``base_url``, key and headers did not change,
and closes the others once the last request leasing them is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from proxyd.access import Policy
from proxyd.config.settings import Config, Provider, Tls
from proxyd.failover import TargetState
from proxyd.learned import LearnedWire
from proxyd.reachability import ProviderHealth
from proxyd.routing import Router
from proxyd.spend.book import PriceBook
from proxyd.toolcalls.schemas import Schemas, compile_schema
from proxyd.toolcalls.verdicts import ToolHealth
from proxyd.upstream import create_session

PoolKey = tuple[str, str | None, tuple[tuple[str, str], ...], Tls]


class Pool:
    """One provider's connection pool, counted while requests use it."""

    __slots__ = ("key", "leases", "retired", "session")

    def __init__(self, key: PoolKey, session: aiohttp.ClientSession) -> None:
        self.key = key
        self.session = session
        self.leases = 0
        self.retired = False


@dataclass(frozen=True)
class Generation:
    number: int  # counts successful loads: 1 is the config proxyd started with
    config: Config
    router: Router
    pools: Mapping[str, Pool] = field(repr=False)
    loaded_at: float  # Unix time
    policy: Policy = field(repr=False)  # the local-access checks in force (listen.access)
    prices: PriceBook = field(repr=False)  # what each (provider, model) costs under this config


def pool_key(provider: Provider) -> PoolKey:
    return (provider.base_url, provider.api_key, provider.headers, provider.tls)


class Runtime:
    def __init__(self, config: Config, source: str = "") -> None:
        self.source = source
        self.health: dict[str, ProviderHealth] = {p.name: _health(p) for p in config.providers}
        self.wires: dict[str, LearnedWire] = {p.name: LearnedWire() for p in config.providers}
        pools = {p.name: Pool(pool_key(p), create_session(config.tcp_keepalive, p.tls)) for p in config.providers}
        self.current = Generation(
            1, config, Router(config), pools, time.time(), Policy(config.listen.access), PriceBook(config)
        )
        self.ready = False  # the server accepts connections (GET /readyz)
        self.exposed = False  # listening on a non-loopback address: the token cannot be dropped
        self._closing: set[asyncio.Task[None]] = set()
        # Model groups: each target's failures and rest, and its requests in flight (by
        # "provider/model"); kept across reloads for the targets that stay.
        self.targets: dict[str, TargetState] = {}
        self.busy: dict[str, int] = {}
        self.rng = random.Random()
        # Tool calls: argument schemas compiled once, and each model's recent tool calling.
        self.schemas = Schemas()
        # New schemas are compiled here, one at a time: a compile is pure Python that holds the
        # GIL, and one thread doing it leaves the event loop its turn every switch interval
        # (several at once starved /healthz for 200 ms).
        self.compiler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proxyd-schemas")
        self.tool_health = ToolHealth()

    def target(self, key: str) -> TargetState | None:
        """A group target's record, None when it never failed (most never do: nothing is kept for them)."""
        return self.targets.get(key)

    def failing(self, key: str) -> TargetState:
        """A group target's record, made at its first failure; a request still on a group a
        reload dropped gets a throwaway one."""
        state = self.targets.get(key)
        if state is None:
            state = TargetState()
            if any(t.key == key for g in self.current.config.groups for t in g.targets):
                self.targets[key] = state
        return state

    def down(self) -> frozenset[str]:
        """The providers the health checker (or real traffic) finds unreachable now."""
        return frozenset(name for name, h in self.health.items() if h.state in ("unreachable", "misconfigured"))

    def lease(self, generation: Generation, name: str) -> Pool:
        pool = generation.pools[name]
        pool.leases += 1
        return pool

    def spoken_wire(self, provider: Provider, model: str | None = None) -> str | None:
        """The wire proxyd speaks to ``provider`` on: its config's, or what a ``wire: auto``
        provider showed for this model or for all (``None`` while it has not). The one record of
        it, reset when the provider's config changes."""
        if provider.wire != "auto":
            return provider.wire
        learned = self.wires.get(provider.name)
        return learned.spoken(model) if learned is not None else None

    def learn_wire(self, provider: Provider, wire: str, why: str | None = None, model: str | None = None) -> None:
        """A ``wire: auto`` provider showed which wire it serves, or serves ``model`` on
        (unless a reload replaced it meanwhile)."""
        learned = self.wires.get(provider.name)
        if learned is not None and self.current.config.provider(provider.name) == provider:
            learned.learn(wire, why, model)

    def release(self, pool: Pool) -> None:
        pool.leases -= 1
        if pool.retired and pool.leases == 0:
            self._close_later(pool)

    def swap(self, config: Config) -> Generation:
        """Put ``config`` in force; returns the new generation. Pools are reused by key."""
        old = self.current
        by_key = {pool.key: pool for pool in old.pools.values()}
        pools: dict[str, Pool] = {}
        for p in config.providers:
            key = pool_key(p)
            reused = by_key.pop(key, None)
            pools[p.name] = reused or Pool(key, create_session(config.tcp_keepalive, p.tls))
            before = old.config.provider(p.name)
            if reused is None or before is None or p.disabled or before.disabled:
                self.health[p.name] = _health(p)  # a new upstream, or one (no longer) disabled: judge it afresh
                self.wires[p.name] = LearnedWire()
            elif _wire_facts(before) != _wire_facts(p):
                self.wires[p.name] = LearnedWire()  # its wire setting or address changed: detect again
        for name in set(self.health) - set(pools):
            del self.health[name]
            self.wires.pop(name, None)
        self.tool_health.keep(set(pools))
        kept = {t.key for g in config.groups for t in g.targets}
        for gone in set(self.targets) - kept:
            del self.targets[gone]
        for pool in by_key.values():
            pool.retired = True
            if pool.leases == 0:
                self._close_later(pool)
        policy = Policy(config.listen.access)
        self.current = Generation(
            old.number + 1, config, self._router(config), pools, time.time(), policy, PriceBook(config)
        )
        self.prime_prices()
        return self.current

    def prime_prices(self) -> None:
        """Resolve the configured models' prices in a thread (the price table loads on first use,
        in a fifth of a second, and only when a priced cloud provider needs it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a sync caller): prices resolve on first use instead
            return
        task = loop.create_task(asyncio.to_thread(self.current.prices.prime))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def refresh_catalog(self) -> None:
        """Rebuild routing after a probe discovered models (the config itself is unchanged)."""
        gen = self.current
        self.current = dataclasses.replace(gen, router=self._router(gen.config))

    def _router(self, config: Config) -> Router:
        return Router(config, {name: h.models for name, h in self.health.items() if h.models})

    def _close_later(self, pool: Pool) -> None:
        task = asyncio.get_running_loop().create_task(pool.session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def compile_schemas(self, todo: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Tool schemas compiled in :attr:`compiler`'s one thread: (key, validator) for each (key, schema)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.compiler, lambda: [(key, compile_schema(s)) for key, s in todo])

    async def close(self) -> None:
        self.compiler.shutdown(wait=False, cancel_futures=True)
        for pool in self.current.pools.values():
            await pool.session.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _wire_facts(provider: Provider) -> tuple[object, ...]:
    """What decides which wire a provider speaks: an edit of a model's window or badges keeps
    what was learned (the page showed 'auto' again after every such edit)."""
    return (provider.wire, provider.base_url, provider.auth, provider.api_key, provider.headers)


def _health(provider: Provider) -> ProviderHealth:
    health = ProviderHealth()
    if provider.disabled:
        health.misconfigured(provider.disabled.text)
    return health


RUNTIME = web.AppKey("runtime", Runtime)
