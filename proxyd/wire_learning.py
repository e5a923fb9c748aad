"""Finding out which wire a ``wire: auto`` provider serves, from the answers to real requests.

A client's request goes to the provider on the client's own wire first. When that endpoint looks
missing (:mod:`proxyd.autowire` judges the answer), this very request is sent on the pivot wire,
and only an answer from the pivot wire's API makes proxyd remember the provider as speaking it
(:meth:`Runtime.learn_wire`). An answer on the client's wire teaches that wire.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import structlog
from aiohttp import web

from proxyd import autowire
from proxyd.autowire import MISSING_ROUTE_STATUSES, missing_route
from proxyd.errors import ProxyError
from proxyd.metrics import METRICS
from proxyd.relay import Exchange, error_answer, read_error_body, read_whole, relay, relay_read, release
from proxyd.runtime import RUNTIME
from proxyd.wires import pivot
from proxyd.wires.registry import WIRES


@dataclass(frozen=True)
class NoRoute:
    """The provider's answer said it may lack the client's endpoint, for this reason (to be
    confirmed on the pivot wire)."""

    path: str  # the client's endpoint that looked missing
    reason: str


async def try_own_wire(
    request: web.Request, resp: aiohttp.ClientResponse, exchange: Exchange, model: str | None
) -> web.StreamResponse | NoRoute:
    """Relay a ``wire: auto`` provider's answer on the client's wire, or say it may lack that path."""
    provider, wire = exchange.provider, exchange.wire
    assert wire is not None
    status = resp.status
    if status in MISSING_ROUTE_STATUSES:
        try:
            body = await read_error_body(resp, provider)
        finally:
            release(resp)
        if missing_route(status, body, model, wire.path):
            return NoRoute(wire.path, autowire.reason(status, body, wire.path))
        return error_answer(resp, body, exchange)  # an unknown model: this provider's own answer
    runtime = request.app[RUNTIME]
    if 200 <= status < 300 and resp.content_type == "application/json":
        body = await read_whole(resp, provider)  # a 200 may still hold "unexpected endpoint"
        if autowire.is_error_object(body):
            release(resp)
            return NoRoute(wire.path, autowire.reason(status, body, wire.path))
        runtime.learn_wire(provider, wire.name)
        return await relay_read(request, resp, body, exchange)
    if status < 300:
        runtime.learn_wire(provider, wire.name)
    return await relay(request, resp, exchange)


async def confirm_pivot(
    request: web.Request, resp: aiohttp.ClientResponse, exchange: Exchange, model: str | None, probing: NoRoute
) -> web.StreamResponse | None:
    """Judge the pivot wire's answer after the client's endpoint looked missing: remember the
    provider as speaking the pivot wire only when that API answered. ``None``: go on with ``resp``."""
    provider, why = exchange.provider, probing.reason
    body = await read_error_body(resp, provider) if resp.status >= 300 else b""
    verdict = autowire.chat_verdict(resp.status, body, model, exchange.path)
    log = structlog.get_logger("proxyd")
    if verdict == "chat_only":
        request.app[RUNTIME].learn_wire(provider, pivot.WIRE, why)
        request.app[METRICS].fallbacks.labels(provider.name).inc()
        to = WIRES[pivot.WIRE].endpoints[0]
        log.info("responses_fallback", provider=provider.name, reason=why, to=to)
        return None if resp.status < 300 else error_answer(resp, body, exchange)
    release(resp)
    log.info("responses_fallback_unconfirmed", provider=provider.name, reason=why, chat_status=resp.status)
    if verdict == "model_unknown":
        return error_answer(resp, body, exchange)
    raise ProxyError(
        404,
        f"provider {provider.name!r} serves neither {probing.path} ({why}) "
        f"nor {exchange.path} (HTTP {resp.status}) at {provider.base_url}: check its base_url",
        code="upstream_path_not_found",
    )
