"""The way back: a provider's answer, from its head to the client, on the path
:func:`proxyd.answer_plan.plan` chooses.

:func:`answer` is entered once per answer. A ``wire: auto`` provider's answer is judged first
(:func:`proxyd.wire_learning.judge`), which may send the request on to the next wire; then one
of the paths runs: the answer relayed as it came (:mod:`proxyd.relay`), a whole answer replayed
as the client's stream, a stream or a whole answer translated into the client's wire, or the
provider's error in the client's shape (:func:`proxyd.error_answer.provider_error`). Every path
gives the connection back through :func:`proxyd.bodies.release`, and a stateful client's turn
is stored before its last event goes out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from proxyd.answer_plan import Head, Path, plan
from proxyd.autowire import NoRoute
from proxyd.bodies import parse_answer, read_error_body, read_json, read_rest, release
from proxyd.error_answer import provider_error, redirect_error
from proxyd.errors import ProxyError
from proxyd.exchange import Exchange
from proxyd.relay import open_sse, pump, relay
from proxyd.store.history import keep_turn
from proxyd.usage import usage_of
from proxyd.wire_learning import Attempt, judge
from proxyd.wires import pivot
from proxyd.wires.registry import Wire
from proxyd.wires.translator import StreamTranslator
from proxyd.wires.turn import Turn

Body = dict[str, Any]
Run = Callable[[web.Request, aiohttp.ClientResponse, Exchange, "bytes | None"], Awaitable[web.StreamResponse]]


async def answer(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, attempt: Attempt | None = None
) -> web.StreamResponse | NoRoute:
    """The client's answer, or (``wire: auto``) the refusal that sends the request on."""
    body: bytes | None = None
    refused: NoRoute | None = None
    if attempt is not None:
        assert ex.wire is not None  # a wire: auto provider is asked on a wire proxyd knows
        judged = await judge(request, resp, ex.provider, ex.wire, attempt, ex.obs.model)
        body, refused = judged.body, judged.refused
    path = plan(head_of(resp, ex, refused is not None))
    if path is Path.NEXT_WIRE:
        assert refused is not None
        return refused
    try:
        return await _RUN[path](request, resp, ex, body)
    finally:
        release(resp)


def head_of(resp: aiohttp.ClientResponse, ex: Exchange, refused: bool) -> Head:
    client, wire, translated = ex.client, ex.wire, ex.translated
    same_errors = client is None or wire is None or client.errors == wire.errors
    sse = resp.content_type == "text/event-stream"
    return Head(
        resp.status, sse, translated, same_errors, ex.stream, ex.whole, ex.turn is not None and not translated, refused
    )


async def _error(request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, body: bytes | None) -> web.Response:
    if 300 <= resp.status < 400:
        raise redirect_error(resp.status, resp.headers.get("Location"), ex)
    if body is None:
        body = await read_error_body(resp, ex.provider)
    return provider_error(request, resp.status, resp.headers.items(), body, ex)


async def _whole(resp: aiohttp.ClientResponse, ex: Exchange, body: bytes | None) -> Body:
    """The provider's whole answer, from what was read already or read now."""
    wire = _wire(ex)
    if body is not None:
        return parse_answer(body, ex.provider, wire.answer_key, wire.answer_kind)
    return await read_json(resp, ex.provider, wire.answer_key, wire.answer_kind)


def _wire(ex: Exchange) -> Wire:
    assert ex.wire is not None  # only answers on a wire proxyd knows are replayed or translated
    return ex.wire


def _client(ex: Exchange) -> Wire:
    return ex.client if ex.client is not None else _wire(ex)


def _turn(ex: Exchange) -> Turn:
    assert ex.turn is not None  # set on the way in for every answer that crosses wires
    return ex.turn


def completion(ex: Exchange, answer: Body) -> Body:
    """A whole answer in the pivot's form, its tool calls checked (and repaired when asked)."""
    found = _wire(ex).answer_to_pivot(answer, _turn(ex))
    return ex.tools.completion(found) if ex.tools is not None else found


async def _translate_whole(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, body: bytes | None
) -> web.Response:
    client = _client(ex)
    out = client.answer_from_pivot(completion(ex, await _whole(resp, ex, body)), _turn(ex))
    ex.obs.usage = client.usage(out.get("usage"))
    await _keep(request, ex, out)
    return web.json_response(out)


async def _replay(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, body: bytes | None
) -> web.StreamResponse:
    """A whole answer as the client's stream: on the client's own wire as its adapter replays
    one, across wires through the pivot. A translated stream opens once there is something to
    send, so a failure before that is an error answer, and one after it the stream's own error."""
    translator = (
        None if not ex.translated else StreamTranslator(_wire(ex).decoder(_turn(ex)), _client(ex).encoder(_turn(ex)))
    )
    head = translator.start() if translator is not None else b""
    out = await open_sse(request, ex.obs) if head else None
    if out is not None:
        await out.write(head)
    try:
        whole = await _whole(resp, ex, body)
    except ProxyError as exc:
        if out is None or translator is None:
            raise
        await out.write(translator.fail(exc.message))
        await out.write_eof()
        return out
    stream, tail = _replayed(ex, whole, translator)
    if out is None:
        out = await open_sse(request, ex.obs)
    await out.write(stream)
    if translator is not None:
        await _keep(request, ex, translator.encoder.answer)
    await out.write(tail)
    await out.write_eof()
    return out


def _replayed(ex: Exchange, whole: Body, translator: StreamTranslator | None) -> tuple[bytes, bytes]:
    """The stream of a whole answer, and its last event (sent after the turn is stored)."""
    wire = _wire(ex)
    if translator is None:
        if ex.tools is not None:
            whole = ex.tools.answer(wire, whole) or whole
        ex.obs.usage = wire.usage(whole.get("usage"))
        return wire.replay(whole, ex.include_usage), b""
    items = [*pivot.completion_chunks(completion(ex, whole), include_usage=True), pivot.END]
    stream = translator.feed_items(items)
    # the translator's usage is the pivot's; without one, the provider's own answer says
    ex.obs.usage = usage_of(translator.usage) if translator.usage is not None else wire.usage(whole.get("usage"))
    return stream, translator.encoder.finish()


async def _translate_stream(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, body: bytes | None
) -> web.StreamResponse:
    """Relay an upstream stream through the translator; a broken upstream ends in the client
    wire's failure. The turn is stored before the last event goes out."""
    turn, tools = _turn(ex), ex.tools
    watch = tools.watch() if tools is not None else None
    translator = StreamTranslator(_wire(ex).decoder(turn), _client(ex).encoder(turn), watch)
    out = await open_sse(request, ex.obs)
    head = translator.start()
    if head:
        await out.write(head)
    failure = await pump(resp, out, ex.provider, ex.obs, translator.feed, until=lambda: translator.ended)
    if failure is not None:
        ex.obs.failed(failure)
    tail = translator.fail(failure.message) if failure else translator.finish()
    if tools is not None and watch is not None:
        tools.done(watch)
    ex.obs.usage = usage_of(translator.usage)
    await _keep(request, ex, translator.encoder.answer)
    await out.write(tail)
    await out.write_eof()
    if failure is None:
        await read_rest(resp)
    return out


async def _keep(request: web.Request, ex: Exchange, out: Body | None) -> None:
    """Store a finished turn of a stateful client wire (Responses' previous_response_id)."""
    if ex.keep is not None and out is not None:
        await keep_turn(request, ex.keep, out)


_RUN: dict[Path, Run] = {
    Path.ERROR: _error,
    Path.ERROR_ACROSS: _error,
    Path.RELAY: relay,
    Path.REPLAY: _replay,
    Path.TRANSLATE_STREAM: _translate_stream,
    Path.TRANSLATE_WHOLE: _translate_whole,
}
