"""Translating between the two OpenAI wires at the edge of a provider.

The Responses API over chat-only providers: translate the request, send it to
``/chat/completions``, translate the answer back (JSON or stream). And the other way, for chat
clients of ``wire: responses`` providers (:func:`chat_via_responses`).

Two ways in: a provider with ``wire: chat``, or ``wire: auto`` whose ``/responses`` looked
missing (:mod:`proxyd.autowire` says how that is told from an unknown model). The request that
found out is translated at once, not lost, and the provider is remembered as chat-only only when
the chat API answered it; the memory lasts while the provider's config does (a changed config
is a new :class:`Provider`, so it is probed again).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import structlog
from aiohttp import web

from proxyd import autowire, jsonbody
from proxyd.autowire import MISSING_ROUTE_STATUSES, missing_route
from proxyd.compat import adapt_chat, streaming_off
from proxyd.config import ModelEntry, Provider
from proxyd.errors import ProxyError, bad_request
from proxyd.headers import upstream_request_headers
from proxyd.healthstate import ProviderHealth
from proxyd.metrics import METRICS
from proxyd.observe import Observation
from proxyd.relay import (
    Exchange,
    error_answer,
    open_sse,
    pump,
    read_completion,
    read_error_body,
    read_json,
    read_rest,
    read_whole,
    relay,
    relay_read,
    release,
)
from proxyd.runtime import RUNTIME
from proxyd.sse import encode_event
from proxyd.stored import STORE, as_items, expand_previous
from proxyd.synth import completion_chunks, completion_to_sse, wants_usage
from proxyd.translate.chat_request import chat_to_responses
from proxyd.translate.chat_stream import ChatChunkEncoder, response_to_completion
from proxyd.translate.errors import TranslationError
from proxyd.translate.request import responses_to_chat
from proxyd.translate.stream import ChatToResponsesStream
from proxyd.translate.wire import ResponsesEncoder, chat_to_response
from proxyd.upstream import send, upstream_url
from proxyd.usage import usage_of

CHAT_ONLY = web.AppKey("chat_only", set)  # providers (by config) found to lack /responses


async def responses_via_chat(
    request: web.Request,
    session: aiohttp.ClientSession,
    provider: Provider,
    body: dict[str, Any],
    obs: Observation,
    model: ModelEntry | None,
    probing: NoResponses | None = None,
) -> web.StreamResponse:
    """``probing``: ``/responses`` of this ``wire: auto`` provider just looked missing."""
    request.app[METRICS].translations.labels("responses", "chat").inc()
    full_input = await expand_previous(request, body)
    try:
        translated = responses_to_chat({**body, "input": full_input})
    except TranslationError as exc:
        raise bad_request(exc.message, param=exc.param) from None
    if translated.dropped:
        structlog.get_logger("proxyd").info("translation_dropped", provider=provider.name, dropped=translated.dropped)
    chat = translated.body
    adapted, notes = adapt_chat(chat, provider, model)
    if notes:
        structlog.get_logger("proxyd").info("request_adapted", provider=provider.name, changes=notes)
    chat = adapted or chat
    streaming = chat.get("stream") is True
    if streaming and streaming_off(provider, model):  # ask for the whole answer; it is replayed as events
        chat.pop("stream")
        chat.pop("stream_options")
    headers = upstream_request_headers(request.headers.items(), provider)
    url = upstream_url(provider, "/chat/completions", "")
    obs.upstream("chat", "responses->chat")
    resp = await send(session, provider, "POST", url, headers, jsonbody.dump(chat))
    obs.answered(resp.status)
    machine = ChatToResponsesStream(body, response_id=f"resp_{obs.request_id}", tool_names=translated.tool_names)
    exchange = Exchange(provider, "chat.completions", "/chat/completions", obs)
    if probing is not None:
        answered = await _confirm_chat(request, resp, exchange, chat.get("model"), probing.reason)
        if answered is not None:
            return answered
    if resp.status >= 300:
        return await relay(request, resp, exchange)
    try:
        if streaming:
            keep = lambda: _keep(request, body, full_input, machine.response)  # noqa: E731
            out = await _stream(request, resp, provider, ResponsesEncoder(machine), obs, keep)
            obs.usage = usage_of(machine.response.get("usage"))
            return out
        else:
            completion = await read_completion(resp, provider)
            response = chat_to_response(
                completion, body, response_id=machine.response["id"], tool_names=translated.tool_names
            )
            out = web.json_response(response)
    finally:
        release(resp)
    obs.usage = usage_of(response.get("usage"))
    await _keep(request, body, full_input, response)
    return out


async def _keep(request: web.Request, body: dict[str, Any], full_input: Any, response: dict[str, Any]) -> None:
    """Store a finished turn for previous_response_id, unless the client said store: false."""
    store = request.app[STORE]
    if store is not None and body.get("store") is not False and response.get("status") in ("completed", "incomplete"):
        try:
            await store.put(as_items(full_input), response)
        except (OSError, sqlite3.Error) as exc:  # a full or broken disk must not break the answer
            structlog.get_logger("proxyd").warning(
                "store_failed", response_id=response.get("id"), error=type(exc).__name__, detail=str(exc)[:200]
            )


async def _stream(
    request: web.Request,
    resp: aiohttp.ClientResponse,
    provider: Provider,
    encoder: ResponsesEncoder,
    obs: Observation,
    keep: Callable[[], Awaitable[None]],
) -> web.StreamResponse:
    if resp.content_type == "text/event-stream":
        return await _translate_stream(request, resp, provider, encoder, obs, head=encoder.start(), keep=keep)
    out = await open_sse(request, obs)  # a server that ignores stream: true (or streaming: false)
    await out.write(encoder.start())
    try:
        completion = await read_completion(resp, provider)
    except ProxyError as exc:
        await out.write(encoder.fail(exc.message))
    else:
        chunks = b"".join(encode_event(json.dumps(c)) for c in completion_chunks(completion, include_usage=True))
        await out.write(encoder.feed(chunks + b"data: [DONE]\n\n"))
        await keep()
        await out.write(encoder.finish())
    await out.write_eof()
    return out


class _StreamEncoder(Protocol):
    @property
    def ended(self) -> bool: ...
    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, message: str) -> bytes: ...


async def _translate_stream(
    request: web.Request,
    resp: aiohttp.ClientResponse,
    provider: Provider,
    encoder: _StreamEncoder,
    obs: Observation,
    head: bytes = b"",
    keep: Callable[[], Awaitable[None]] | None = None,
) -> web.StreamResponse:
    """Relay an upstream stream through ``encoder``; a broken upstream ends in the wire's failure.
    ``keep`` runs before the last event goes out (the Responses store)."""
    out = await open_sse(request, obs)
    if head:
        await out.write(head)
    failure = await pump(resp, out, provider, obs, encoder.feed, until=lambda: encoder.ended)
    if failure is not None:
        obs.failed(failure)
    tail = encoder.fail(failure.message) if failure else encoder.finish()
    if keep is not None:
        await keep()
    await out.write(tail)
    await out.write_eof()
    if failure is None:
        await read_rest(resp)
    return out


@dataclass(frozen=True)
class NoResponses:
    """A ``wire: auto`` provider's ``/responses`` looked missing, for this reason (to be
    confirmed by the chat attempt)."""

    reason: str


async def try_responses(
    request: web.Request, resp: aiohttp.ClientResponse, exchange: Exchange, model: str | None
) -> web.StreamResponse | NoResponses:
    """Relay a ``wire: auto`` provider's answer to ``/responses``, or say it may lack that path."""
    health = request.app[RUNTIME].health.get(exchange.provider.name)
    status = resp.status
    if status in MISSING_ROUTE_STATUSES:
        try:
            body = await read_error_body(resp, exchange.provider)
        finally:
            release(resp)
        if missing_route(status, body, model, "/responses"):
            return NoResponses(autowire.reason(status, body))
        return error_answer(resp, body, exchange)  # an unknown model: this provider's own answer
    known = health is not None and health.wire == "responses"
    if 200 <= status < 300 and not known and resp.content_type == "application/json":
        body = await read_whole(resp, exchange.provider)  # a 200 may still hold "unexpected endpoint"
        if autowire.is_error_object(body):
            release(resp)
            return NoResponses(autowire.reason(status, body))
        _learned(health, "responses")
        return await relay_read(request, resp, body, exchange)
    if status < 300:
        _learned(health, "responses")
    return await relay(request, resp, exchange)


def _learned(health: ProviderHealth | None, wire: str, why: str | None = None) -> None:
    if health is not None:
        health.wire, health.wire_reason = wire, why


async def _confirm_chat(
    request: web.Request, resp: aiohttp.ClientResponse, exchange: Exchange, model: str | None, why: str
) -> web.StreamResponse | None:
    """After ``/responses`` looked missing, judge the chat answer: remember the provider as
    chat-only only when the chat API answered; ``None`` lets the caller go on with ``resp``."""
    provider = exchange.provider
    body = await read_error_body(resp, provider) if resp.status >= 300 else b""
    verdict = autowire.chat_verdict(resp.status, body, model)
    log = structlog.get_logger("proxyd")
    if verdict == "chat_only":
        request.app[CHAT_ONLY].add(provider)
        _learned(request.app[RUNTIME].health.get(provider.name), "chat", why)
        request.app[METRICS].fallbacks.labels(provider.name).inc()
        log.info("responses_fallback", provider=provider.name, reason=why, to="chat.completions")
        return None if resp.status < 300 else error_answer(resp, body, exchange)
    release(resp)
    log.info("responses_fallback_unconfirmed", provider=provider.name, reason=why, chat_status=resp.status)
    if verdict == "model_unknown":
        return error_answer(resp, body, exchange)
    raise ProxyError(
        404,
        f"provider {provider.name!r} serves neither /responses ({why}) nor /chat/completions (HTTP {resp.status}) "
        f"at {provider.base_url}: check its base_url",
        code="upstream_path_not_found",
    )


async def chat_via_responses(
    request: web.Request,
    session: aiohttp.ClientSession,
    provider: Provider,
    body: dict[str, Any],
    obs: Observation,
    model: ModelEntry | None,
) -> web.StreamResponse:
    request.app[METRICS].translations.labels("chat", "responses").inc()
    try:
        translated = chat_to_responses(body)
    except TranslationError as exc:
        raise bad_request(exc.message, param=exc.param) from None
    streaming = translated.get("stream") is True
    if streaming and streaming_off(provider, model):
        translated.pop("stream")
    headers = upstream_request_headers(request.headers.items(), provider)
    obs.upstream("responses", "chat->responses")
    resp = await send(
        session, provider, "POST", upstream_url(provider, "/responses", ""), headers, jsonbody.dump(translated)
    )
    obs.answered(resp.status)
    if resp.status >= 300:
        return await relay(request, resp, Exchange(provider, "responses", "/responses", obs))
    include_usage = wants_usage(body)
    name = str(body.get("model") or "")
    try:
        if streaming and resp.content_type == "text/event-stream":
            encoder = ChatChunkEncoder(model=name, created=int(time.time()), include_usage=include_usage)
            out = await _translate_stream(request, resp, provider, encoder, obs)
            obs.usage = usage_of(encoder.usage)
            return out
        response = await read_json(resp, provider, "output", "a response")
        completion = response_to_completion(response, name)
    finally:
        release(resp)
    obs.usage = usage_of(response.get("usage"))
    if not streaming:
        return web.json_response(completion)
    out = await open_sse(request, obs)
    await out.write(completion_to_sse(completion, include_usage=include_usage))
    await out.write_eof()
    return out
