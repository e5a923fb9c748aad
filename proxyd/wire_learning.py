"""Finding out which wire a ``wire: auto`` provider serves, from the answers to real requests.

A client's request goes to the provider on the client's own wire first (or on the wire the
provider, or this model, showed before). When the answer says that wire is missing, or (on
chat) that the model is served only on /responses, :mod:`proxyd.autowire` says so with a
:class:`~proxyd.autowire.NoRoute`, and :mod:`proxyd.forward` sends this very request on the next
wire. Only an answer from that wire's API makes proxyd remember it (:meth:`Runtime.learn_wire`),
for the provider or for the one model; an answer on the client's wire teaches that wire.
"""

from __future__ import annotations

import aiohttp
import structlog
from aiohttp import web

from proxyd import autowire
from proxyd.autowire import MISSING_ROUTE_STATUSES, NoRoute
from proxyd.metrics import METRICS
from proxyd.relay import Exchange, error_answer, read_error_body, read_whole, relay, relay_read, release
from proxyd.runtime import RUNTIME
from proxyd.wires import pivot
from proxyd.wires.registry import Wire


async def try_own_wire(
    request: web.Request,
    resp: aiohttp.ClientResponse,
    exchange: Exchange,
    model: str | None,
    *,
    learned: bool,
    probing: NoRoute | None,
) -> web.StreamResponse | NoRoute:
    """Relay a ``wire: auto`` provider's answer on the client's wire, or say it sends the request
    elsewhere. ``learned``: the provider (or model) is known to speak this wire, so only a chat
    answer that sends the model to /responses counts; ``probing``: an earlier wire refused."""
    wire = exchange.wire
    assert wire is not None
    status = resp.status
    if status in MISSING_ROUTE_STATUSES or (status >= 400 and wire.name == "chat"):
        try:
            body = await read_error_body(resp, exchange.provider)
        finally:
            release(resp)
        refused = autowire.refusal(wire.name, wire.path, status, body, model, learned=learned)
        if refused is not None:
            return refused
        if probing is not None and autowire.chat_verdict(status, body, model, wire.path) == "chat_only":
            learn(request, exchange, wire, model, probing)  # its API answered, with an error of its own
        return error_answer(request, resp, body, exchange)
    if not learned and 200 <= status < 300 and wire.name != "chat" and resp.content_type == "application/json":
        # A 200 may still hold "unexpected endpoint" (desktop apps); chat, which they all serve, is
        # taken at its word.
        body = await read_whole(resp, exchange.provider)
        refused = autowire.refusal(wire.name, wire.path, status, body, model, learned=False, answer_key=wire.answer_key)
        if refused is not None:
            release(resp)
            return refused
        learn(request, exchange, wire, model, probing)
        return await relay_read(request, resp, body, exchange)
    if status < 300 and not learned:
        learn(request, exchange, wire, model, probing)
    return await relay(request, resp, exchange)


async def confirm(
    request: web.Request, resp: aiohttp.ClientResponse, exchange: Exchange, model: str | None, probing: NoRoute
) -> NoRoute | bytes | None:
    """Judge the answer on the wire tried after ``probing``'s refusal: remember that wire when
    its API answered; a refusal here too goes on to the next wire. Bytes: an error body to
    answer with (the response is released); ``None``: go on with ``resp``."""
    wire = exchange.wire
    assert wire is not None
    if resp.status < 300:
        learn(request, exchange, wire, model, probing)
        return None
    try:
        body = await read_error_body(resp, exchange.provider)
    finally:
        release(resp)
    refused = autowire.refusal(wire.name, wire.path, resp.status, body, model, learned=False)
    if refused is None and autowire.chat_verdict(resp.status, body, model, wire.path) == "chat_only":
        learn(request, exchange, wire, model, probing)  # its API answered, with an error of its own
        return body
    structlog.get_logger("proxyd").info(
        f"{probing.wire}_fallback_unconfirmed", provider=exchange.provider.name, reason=probing.reason,
        to=wire.endpoints[0], status=resp.status,
    )  # fmt: skip
    return refused or body  # refused too: the next wire; no such model here either: its answer


async def judge_translated(
    request: web.Request, resp: aiohttp.ClientResponse, exchange: Exchange, model: str | None, probing: NoRoute | None
) -> NoRoute | bytes | None:
    """A ``wire: auto`` provider's answer on a translated wire: after a refusal, confirmed
    (:func:`confirm`); on chat, an error that sends the model to /responses is a refusal.
    Bytes: the error body to answer with; ``None``: go on with ``resp``."""
    if probing is not None:
        return await confirm(request, resp, exchange, model, probing)
    try:
        body = await read_error_body(resp, exchange.provider)
    finally:
        release(resp)
    return autowire.refusal(pivot.WIRE, exchange.path, resp.status, body, model, learned=True) or body


def learn(request: web.Request, exchange: Exchange, wire: Wire, model: str | None, probing: NoRoute | None) -> None:
    """Remember that the provider (or, when only the model was refused elsewhere, the model)
    speaks ``wire``; a fallback is logged and counted."""
    provider = exchange.provider
    per_model = model if probing is not None and probing.scope == "model" else None
    request.app[RUNTIME].learn_wire(provider, wire.name, probing.reason if probing else None, per_model)
    if probing is None:
        return
    request.app[METRICS].fallbacks.labels(provider.name, probing.wire, wire.name).inc()
    structlog.get_logger("proxyd").info(
        f"{probing.wire}_fallback", provider=provider.name, reason=probing.reason, to=wire.endpoints[0],
        model=per_model[:200] if per_model else None,
    )  # fmt: skip
