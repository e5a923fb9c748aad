"""Background health probes: ``GET {base_url}/models`` for every provider, every
``health.interval_s`` (cheap: it spends no tokens).

The verdicts live in :class:`~proxyd.reachability.ProviderHealth` records, which real traffic
updates too (see :mod:`proxyd.observe`). A listing the probe finds becomes the provider's
discovered catalog: ``/v1/models`` shows it for providers that configure no models, routing
knows its ids, and what it says of each model (:mod:`proxyd.listing`) fills what the config
leaves empty. An empty or failing listing keeps what was known and is retried next time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import suppress

import aiohttp
import structlog
from aiohttp import web

from proxyd.checkup.diagnose import url_forms_to_try, working_form_advice
from proxyd.config.settings import ModelEntry, Provider
from proxyd.errors import json_or_none
from proxyd.headers import upstream_request_headers
from proxyd.listing import looks_like_ollama, models_in_listing, next_page, ollama_window, with_windows
from proxyd.metrics import Metrics
from proxyd.reachability import ProbeResult, ProviderHealth
from proxyd.redact import blank_provider_secrets
from proxyd.runtime import Generation, Runtime
from proxyd.upstream import map_exception, upstream_url

MAX_LISTING = 8 * 1024 * 1024
OLLAMA_SHOW_MAX = 64  # models asked about per probe (the rest on the next)
MAX_PAGES = 10  # of a paged listing (Anthropic answers 20 models a page by default)


async def probe_models(session: aiohttp.ClientSession, provider: Provider, timeout_s: float) -> ProbeResult:
    """One ``GET /models`` (and its further pages, for listings that page): how long the first
    page took, its status, and the models they listed."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            status, body = await _get_models(session, provider, "")
            latency = time.perf_counter() - started
            pages = [json_or_none(body)] if 200 <= status < 300 else []
            while pages and len(pages) < MAX_PAGES and (further := next_page(pages[-1])) is not None:
                more_status, more = await _get_models(session, provider, further)
                if not 200 <= more_status < 300:
                    break
                pages.append(json_or_none(more))
    except TimeoutError as exc:
        took = time.perf_counter() - started
        return ProbeResult(took, error=f"GET /models got no answer within {timeout_s:g} s", failure=exc)
    except (aiohttp.ClientError, OSError) as exc:
        return ProbeResult(time.perf_counter() - started, error=map_exception(exc, provider).message, failure=exc)
    if not pages:
        return ProbeResult(latency, status=status, body=blank_provider_secrets(body[:4096], provider))
    listed = [models_in_listing(page) for page in pages]
    models = None if listed[0] is None else tuple(m for found in listed for m in found or ())
    return ProbeResult(latency, status=status, models=models, ollama=looks_like_ollama(pages[0]))


async def _get_models(session: aiohttp.ClientSession, provider: Provider, query: str) -> tuple[int, bytes]:
    url = upstream_url(provider, "/models", query)
    headers = upstream_request_headers((), provider)
    connect = aiohttp.ClientTimeout(total=None, connect=provider.timeouts.connect_s)
    async with session.get(url, headers=headers, allow_redirects=False, timeout=connect) as resp:
        return resp.status, await resp.content.read(MAX_LISTING)


async def misplaced(
    session: aiohttp.ClientSession, provider: Provider, result: ProbeResult, timeout_s: float
) -> ProbeResult:
    """A 404 on GET /models: when another form of the base_url lists models, the result says so
    (as ``proxyd check`` does), and the provider is misconfigured rather than green."""
    for form in url_forms_to_try(provider):
        other = await probe_models(session, dataclasses.replace(provider, base_url=form), timeout_s)
        if other.status is not None and 200 <= other.status < 300:
            return dataclasses.replace(result, misplaced=working_form_advice(provider, "/models", form))
    return result


async def _ollama_windows(
    session: aiohttp.ClientSession,
    provider: Provider,
    models: tuple[ModelEntry, ...],
    known: dict[str, int],
    timeout_s: float,
) -> None:
    """Ask Ollama's /api/show for the windows its listing does not say, once per model (kept in ``known``)."""
    missing = [m.id for m in models if m.context_window is None and m.id not in known][:OLLAMA_SHOW_MAX]
    origin = provider.base_url.rstrip("/").removesuffix("/v1")

    async def show(model: str) -> None:
        try:
            async with asyncio.timeout(timeout_s), session.post(f"{origin}/api/show", json={"model": model}) as resp:
                body = json_or_none(await resp.content.read(MAX_LISTING)) if resp.status == 200 else None
        except (aiohttp.ClientError, OSError, TimeoutError):
            return  # the 128k guess stays; the next probe asks again
        window = ollama_window(body)
        if window is not None:
            known[model] = window

    await asyncio.gather(*(show(m) for m in missing))


def publish_state(metrics: Metrics, name: str, health: ProviderHealth, by: str) -> None:
    """A provider's state changed (by a probe or by traffic): set its gauges and say so in the log."""
    metrics.set_state(name, health.state)
    log = structlog.get_logger("proxyd.probes")
    (log.info if health.state == "ok" else log.warning)(
        "provider_state", provider=name, state=health.state, error=health.error, by=by
    )


class HealthChecker:
    def __init__(self, runtime: Runtime, metrics: Metrics) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """Probe now (after a reload), not at the end of the interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            interval = self.runtime.current.config.health.interval_s
            if interval > 0:
                await self.probe_all()
            with suppress(TimeoutError):
                async with asyncio.timeout(interval if interval > 0 else None):
                    await self._wake.wait()
            self._wake.clear()

    async def probe_all(self) -> None:
        gen = self.runtime.current
        health = self.runtime.health
        awake = [p for p in gen.config.providers if not p.disabled and not (p.name in health and health[p.name].asleep)]
        found = await asyncio.gather(*(self._probe(gen, p) for p in awake))
        if any(found):
            self.runtime.refresh_catalog()

    async def _probe(self, gen: Generation, provider: Provider) -> bool:
        """Probe one provider; True when its discovered catalog changed."""
        settings = gen.config.health
        pool = self.runtime.lease(gen, provider.name)
        try:
            result = await probe_models(pool.session, provider, settings.timeout_s)
            if result.status == 404:  # a base_url without /v1 (or with one too many) answers, but nothing works
                result = await misplaced(pool.session, provider, result, settings.timeout_s)
        finally:
            self.runtime.release(pool)
        health = self.runtime.health.get(provider.name)
        if health is None or self.runtime.current.pools.get(provider.name) is not pool:
            return False  # a reload replaced this provider while it was probed
        if result.models and (result.ollama or provider.service == "Ollama"):
            await _ollama_windows(pool.session, provider, result.models, health.windows, settings.timeout_s)
            result = dataclasses.replace(result, models=with_windows(result.models, health.windows))
        before_state, before_models = health.state, health.models
        health.probed(result, settings.degraded_after_s, time.time())
        if health.probe_latency_s is not None:
            self.metrics.probe_seconds.labels(provider.name).set(health.probe_latency_s)
        if health.state != before_state:
            publish_state(self.metrics, provider.name, health, by="probe")
        return health.models != before_models


HEALTH = web.AppKey("health", HealthChecker)
