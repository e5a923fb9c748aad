"""Finding out which wire a ``wire: auto`` provider serves, from the answers to real requests:
the I/O around :data:`proxyd.autowire.MOVES`.

A client's request goes to the provider on the client's own wire first (or on the wire the
provider, or this model, showed before). :func:`judge` reads what the table needs of the answer
(an error body; a 200's body on a wire whose 200s may be disguised refusals), looks the move up,
and remembers the wire when the table says so (:meth:`Runtime.learn_wire`), for the provider or
for the one model. The answer then takes its path like any other (:mod:`proxyd.answering`).
"""

from __future__ import annotations

from typing import NamedTuple

import aiohttp
import structlog
from aiohttp import web

from proxyd import autowire
from proxyd.autowire import Known, NoRoute
from proxyd.bodies import read_error_body, read_whole, release
from proxyd.config.settings import Provider
from proxyd.metrics import METRICS
from proxyd.runtime import RUNTIME
from proxyd.wires.registry import Wire


class Attempt(NamedTuple):
    """One wire a ``wire: auto`` provider is asked on: what was known when it was chosen, and the
    refusal that sent the request here when an earlier wire refused it."""

    wire: str
    known: Known
    refused: NoRoute | None = None


class Judged(NamedTuple):
    body: bytes | None  # what was read of the answer (an error body, or a whole 200)
    refused: NoRoute | None  # the request goes on to the next wire


async def judge(
    request: web.Request, resp: aiohttp.ClientResponse, provider: Provider, wire: Wire, attempt: Attempt,
    model: str | None,
) -> Judged:  # fmt: skip
    status = resp.status
    body: bytes | None = None
    if status >= 300:
        try:
            body = await read_error_body(resp, provider)
        finally:
            release(resp)
    elif attempt.known != "learned" and not wire.ubiquitous and resp.content_type == "application/json":
        body = await read_whole(resp, provider)
    seen = autowire.showed(wire.name, status, body, model, wire.path, wire.answer_key)
    return _moved(request, provider, wire, attempt, model, seen, status, body)


def unsendable(attempt: Attempt) -> NoRoute | None:
    """A request with no form on the attempt's wire: the next wire (nothing was asked, so the
    refusal that led here stands), or ``None``: its own error is the answer."""
    return attempt.refused if autowire.MOVES[attempt.known, "unsendable"].next else None


def _moved(
    request: web.Request, provider: Provider, wire: Wire, attempt: Attempt, model: str | None,
    seen: autowire.Showed, status: int, body: bytes | None,
) -> Judged:  # fmt: skip
    move = autowire.MOVES[attempt.known, seen]
    if move.remember:
        learn(request, provider, wire, model, attempt.refused)
    elif attempt.refused is not None:
        structlog.get_logger("proxyd").info(
            f"{attempt.refused.wire}_fallback_unconfirmed", provider=provider.name, reason=attempt.refused.reason,
            to=wire.endpoints[0], status=status,
        )  # fmt: skip
    if not move.next:
        return Judged(body, None)
    return Judged(body, autowire.refused(wire.name, wire.path, status, body or b"", model, seen))


def learn(request: web.Request, provider: Provider, wire: Wire, model: str | None, refused: NoRoute | None) -> None:
    """Remember that the provider (or, when only the model was refused elsewhere, the model)
    speaks ``wire``; a fallback is logged and counted."""
    per_model = model if refused is not None and refused.scope == "model" else None
    request.app[RUNTIME].learn_wire(provider, wire.name, refused.reason if refused else None, per_model)
    if refused is None:
        return
    request.app[METRICS].fallbacks.labels(provider.name, refused.wire, wire.name).inc()
    structlog.get_logger("proxyd").info(
        f"{refused.wire}_fallback", provider=provider.name, reason=refused.reason, to=wire.endpoints[0],
        model=per_model[:200] if per_model else None,
    )  # fmt: skip
