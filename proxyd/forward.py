"""The one call path from a routed request to its answer.

client wire → the wire the provider is spoken to on → (through the pivot, when they differ) →
:func:`send_upstream` → relay, or the answer translated back. Each decision is made once, here:

- the provider's wire: :meth:`Runtime.spoken_wire` (its config, or what a ``wire: auto``
  provider showed);
- a stream made from a whole answer, for providers or models that do not stream
  (:func:`_wants_whole`);
- a ``wire: auto`` provider that lacks the client's endpoint: this very request goes to the
  pivot wire (:mod:`proxyd.wire_learning` judges the answers).

Nothing here names a pair of wires: the adapters (:mod:`proxyd.wires`) know their APIs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from proxyd import autowire, failover, jsonbody
from proxyd.autowire import NoRoute, next_wire
from proxyd.config import Provider
from proxyd.counting import count
from proxyd.error_answer import answer_error
from proxyd.errors import ProxyError, bad_request, provider_message
from proxyd.failover import TryNext
from proxyd.fitting import ADAPTERS, streaming_off
from proxyd.headers import upstream_request_headers
from proxyd.metrics import METRICS
from proxyd.observe import Observation
from proxyd.relay import (
    Exchange,
    Replay,
    error_answer,
    open_sse,
    pump,
    read_error_body,
    read_json,
    read_rest,
    relay,
    release,
)
from proxyd.routing import Route, Target
from proxyd.runtime import RUNTIME
from proxyd.store.endpoints import keep_turn, with_history
from proxyd.toolcheck import ToolCheck, tool_check
from proxyd.upstream import send, upstream_url
from proxyd.usage import usage_of
from proxyd.wire_learning import judge_translated, learn, try_own_wire
from proxyd.wires import pivot
from proxyd.wires.registry import (
    WIRES,
    TranslationError,
    Wire,
    client_wire,
    counting_wire,
    stream_wire,
)
from proxyd.wires.translator import StreamTranslator
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One routed request on its way upstream."""

    request: web.Request
    route: Route
    session: aiohttp.ClientSession
    obs: Observation
    fail_over: bool = False  # a model group may try another target: failures before an answer say so

    @property
    def provider(self) -> Provider:
        return self.route.provider


async def forward(
    request: web.Request,
    target: Target,
    route: Route,
    session: aiohttp.ClientSession,
    body: bytes | None,
    parsed: Body | None,
    obs: Observation,
    *,
    fail_over: bool = False,
) -> web.StreamResponse:
    """``fail_over``: another attempt may follow, so a failure before any answer raises
    :class:`~proxyd.failover.TryNext` instead of answering the client."""
    call = Call(request, route, session, obs, fail_over)
    if parsed is not None and route.rewritten:
        parsed["model"] = route.model
    spoken = request.app[RUNTIME].spoken_wire(route.provider, route.model)
    counter = counting_wire(target.endpoint)
    if counter is not None and parsed is not None:
        if spoken != counter.name:  # only a provider on the counter's own wire counts it as sent
            return await count(session, route.provider, route.model, counter, parsed, obs)
        counted = await _as_sent(call, target, body, parsed)
        if not counted.prepared:
            counted.headers["X-Proxyd-Token-Count"] = "provider"
        return counted
    client = client_wire(target.endpoint) if parsed is not None and request.method == "POST" else None
    if client is None or parsed is None:
        return await _as_sent(call, target, body, parsed)
    return await _on_wires(call, target, body, parsed, client, spoken)


async def _on_wires(
    call: Call, target: Target, raw: bytes | None, parsed: Body, client: Wire, spoken: str | None
) -> web.StreamResponse:
    """On the wire the provider speaks; a ``wire: auto`` provider that refuses it gets this very
    request on the next wire (:func:`proxyd.autowire.next_wire`), until one answers."""
    tried = [spoken or client.name]
    asked = list(tried)  # the wires the provider was asked on (a request one cannot carry is not sent)
    answered = await _on_wire(call, target, raw, parsed, client, tried[0], learned=spoken is not None, probing=None)
    while isinstance(answered, NoRoute):
        wire = next_wire(client.name, tried)
        if wire is None:
            raise autowire.served_nowhere(call.provider.name, call.provider.base_url, [WIRES[w].path for w in asked],
                                          answered)  # fmt: skip
        tried.append(wire)
        refused = answered
        answered = await _on_wire(call, target, raw, parsed, client, wire, learned=False, probing=refused)
        if answered is not refused:  # the request went out on that wire
            asked.append(wire)
    return answered


async def _on_wire(
    call: Call, target: Target, raw: bytes | None, parsed: Body, client: Wire, wire: str, *,
    learned: bool, probing: NoRoute | None,
) -> web.StreamResponse | NoRoute:  # fmt: skip
    if wire == client.name:
        return await _same_wire(call, target, raw, parsed, client, learned=learned, probing=probing)
    return await translate(call, parsed, client, WIRES[wire], probing)


async def send_upstream(
    call: Call, method: str, path: str, query: str, body: bytes | None, wire: str, translated: str | None = None
) -> aiohttp.ClientResponse:
    """Send one request to the routed provider and wait for its answer's head."""
    provider = call.provider
    headers = upstream_request_headers(call.request.headers.items(), provider)
    call.obs.upstream(wire, translated)
    try:
        resp = await send(call.session, provider, method, upstream_url(provider, path, query), headers, body)
    except ProxyError as exc:
        if call.fail_over and exc.code in failover.ERRORS:
            raise TryNext(failover.ERRORS[exc.code], detail=exc.message) from None
        raise
    call.obs.answered(resp.status)
    if call.fail_over and resp.status in failover.STATUSES:
        wait = failover.retry_after_s(resp.headers.get("Retry-After"), time.time())
        release(resp)
        raise TryNext(f"status_{resp.status}", wait, f"HTTP {resp.status} from provider {provider.name!r}")
    return resp


def adapt(wire: Wire, body: Body, call: Call) -> Body | None:
    """The body fitted to the provider's compat settings and the model's declarations, or None."""
    adapted, notes = ADAPTERS[wire.name](body, call.provider, call.route.entry)
    if notes:
        structlog.get_logger("proxyd").info("request_adapted", provider=call.provider.name, changes=notes)
    return adapted


async def _as_sent(call: Call, target: Target, body: bytes | None, parsed: Body | None) -> web.StreamResponse:
    """Endpoints proxyd does not translate (embeddings, audio, files...): the body as sent, the
    model rewritten when routing chose another name."""
    wire = stream_wire(target.endpoint)
    replay = None
    if parsed is not None and _wants_whole(call, target, parsed):
        assert wire is not None  # only endpoints with a known wire get past _wants_whole
        parsed, replay = wire.whole(parsed), Replay(wire.wants_usage(parsed))
    if parsed is not None and (call.route.rewritten or replay is not None):
        body = jsonbody.dump(parsed)
    method = call.request.method
    resp = await send_upstream(call, method, target.rest, target.query, body, wire.name if wire else "other")
    return await relay(call.request, resp, Exchange(call.provider, target.rest, call.obs, wire, replay))


async def _same_wire(
    call: Call, target: Target, raw: bytes | None, parsed: Body, client: Wire, *, learned: bool,
    probing: NoRoute | None = None,
) -> web.StreamResponse | NoRoute:  # fmt: skip
    """The request on the client's own wire; a ``wire: auto`` provider may turn out to lack it."""
    adapted = adapt(client, parsed, call)
    body = adapted or parsed
    tools = await _tool_check(call, client.offered_tools(body), client, body) if body.get("tools") else None
    whole = _wants_whole(call, target, body)
    data: bytes | None
    if whole:
        data = jsonbody.dump(client.whole(body))
    elif adapted is not None or call.route.rewritten:
        data = jsonbody.dump(body)
    else:
        data = raw  # nothing changed: the client's own bytes pass untouched
    resp = await send_upstream(call, "POST", target.rest, target.query, data, client.name)
    replay = Replay(client.wants_usage(body)) if whole else None
    exchange = Exchange(call.provider, target.rest, call.obs, client, replay, tools)
    auto = call.provider.wire == "auto"
    if tools is not None and tools.rewrites(client) and replay is None and _is_stream(resp):
        if auto and not learned:  # a stream: the wire answered
            learn(call.request, exchange, client, call.route.model, probing)
        translator = StreamTranslator(client.decoder(tools.turn), client.encoder(tools.turn), tools.watch())
        return await _pump_translated(call, resp, translator, _Keeper(call, None), tools)
    if auto and (not learned or resp.status >= 400):
        return await try_own_wire(call.request, resp, exchange, call.route.model, learned=learned, probing=probing)
    return await relay(call.request, resp, exchange)


def _is_stream(resp: aiohttp.ClientResponse) -> bool:
    return resp.status < 300 and resp.content_type == "text/event-stream"


async def _tool_check(call: Call, offer: Pivoted, client: Wire, body: Body) -> ToolCheck | None:
    """The request's tool-call check, when its offer (in the pivot's form) holds tools; schemas
    seen for the first time are compiled in a thread (a large one takes a good part of a second)."""
    runtime = call.request.app[RUNTIME]
    check = tool_check(runtime.schemas, call.route, call.obs, offer, client, body)
    if check is not None and (todo := check.unprepared()):
        check.prepared(await runtime.compile_schemas(todo))  # also a turn for other requests, as above
    return check


def _wants_whole(call: Call, target: Target, parsed: Body) -> bool:
    """Replay a whole answer as a stream? For providers or models that do not stream."""
    if parsed.get("stream") is not True:
        return False
    off = streaming_off(call.provider, call.route.entry)
    if off is None:
        return False
    if client_wire(target.endpoint) is None:
        raise bad_request(
            f'{off}, and proxyd can replay only chat completions and responses as a stream; send "stream": false',
            param="stream",
        )
    return True


async def translate(
    call: Call, body: Body, client: Wire, provider: Wire, probing: NoRoute | None = None
) -> web.StreamResponse | NoRoute:
    """The request through the pivot onto the provider's wire, and the answer back."""
    request = call.request
    request.app[METRICS].translations.labels(client.name, provider.name).inc()
    full = await with_history(request, body) if client.stateful else body
    try:
        pivoted, sent = _outbound(call, full, client, provider)
    except ProxyError:
        if probing is not None:
            return probing  # this request has no form on that wire: it cannot tell anything
        raise
    tools = await _tool_check(call, pivoted, client, body)
    streaming = sent.get("stream") is True
    if streaming and streaming_off(call.provider, call.route.entry):
        sent = provider.whole(sent)  # ask for the whole answer; it is replayed as the client's stream
    resp = await send_upstream(
        call, "POST", provider.path, "", jsonbody.dump(sent), provider.name, f"{client.name}->{provider.name}"
    )
    exchange = Exchange(call.provider, provider.path, call.obs, provider)
    if probing is not None or (call.provider.wire == "auto" and resp.status >= 400 and provider.name == pivot.WIRE):
        judged = await judge_translated(request, resp, exchange, call.route.model, probing)
        if judged is not None:
            return judged if isinstance(judged, NoRoute) else _error_reply(call, resp, judged, exchange, client)
    if resp.status >= 300:
        if client.errors != provider.errors:  # the provider's error, in the shape the client reads
            return await _error_across(call, resp, exchange, client)
        return await relay(request, resp, exchange)
    turn = Turn(body, f"resp_{call.obs.request_id}", str(body.get("model") or ""), int(time.time()),
                pivoted.tool_names, client.wants_usage(body))  # fmt: skip
    back = _Back(provider, client, turn, _Keeper(call, full if client.stateful else None), tools)
    try:
        if streaming:
            return await _translate_stream(call, resp, back)
        answer = await read_json(resp, call.provider, provider.answer_key, provider.answer_kind)
    finally:
        release(resp)
    out = client.answer_from_pivot(back.completion(answer), turn)
    call.obs.usage = usage_of(out.get("usage"))
    await back.keep(out)
    return web.json_response(out)


def _outbound(call: Call, full: Body, client: Wire, provider: Wire) -> tuple[Pivoted, Body]:
    """The client's request in the pivot's form, and as the provider's wire and compat want it."""
    try:
        pivoted = client.to_pivot(full)
        sent = provider.from_pivot(pivoted.body)
    except TranslationError as exc:
        raise bad_request(exc.message, param=exc.param) from None
    if pivoted.dropped:
        structlog.get_logger("proxyd").info(
            "translation_dropped", provider=call.provider.name, dropped=list(pivoted.dropped)
        )
    return pivoted, adapt(provider, sent, call) or sent


def _error_reply(
    call: Call, resp: aiohttp.ClientResponse, body: bytes, exchange: Exchange, client: Wire
) -> web.Response:
    """A provider's error whose body was read, in the shape of the client's API."""
    provider = exchange.wire
    if provider is None or client.errors == provider.errors:
        return error_answer(call.request, resp, body, exchange)
    return _across(call, resp.status, body, client)


async def _error_across(call: Call, resp: aiohttp.ClientResponse, exchange: Exchange, client: Wire) -> web.Response:
    try:
        body = await read_error_body(resp, call.provider)
    finally:
        release(resp)
    return _across(call, resp.status, body, client)


def _across(call: Call, status: int, body: bytes, client: Wire) -> web.Response:
    message = f"provider {call.provider.name!r} answered {status}: {provider_message(body) or 'no details given'}"
    status = status if status < 600 else 502
    return answer_error(client, ProxyError(status, message))


class _Keeper:
    """Stores a finished turn of a stateful client wire (Responses' previous_response_id)."""

    def __init__(self, call: Call, full: Body | None) -> None:
        self.call, self.full = call, full

    async def __call__(self, answer: Body | None) -> None:
        if self.full is not None and answer is not None:
            await keep_turn(self.call.request, self.full, answer)


@dataclass(frozen=True)
class _Back:
    """How a translated answer comes back: the provider's and the client's wires, the turn, what
    keeps a stateful client's turn, and the request's tool check."""

    provider: Wire
    client: Wire
    turn: Turn
    keep: _Keeper
    tools: ToolCheck | None

    def completion(self, answer: Body) -> Body:
        """A whole answer in the pivot's form, its tool calls checked (and repaired when asked)."""
        completion = self.provider.answer_to_pivot(answer, self.turn)
        return self.tools.completion(completion) if self.tools is not None else completion


async def _translate_stream(call: Call, resp: aiohttp.ClientResponse, back: _Back) -> web.StreamResponse:
    if resp.content_type == "text/event-stream":
        watch = back.tools.watch() if back.tools is not None else None
        translator = StreamTranslator(back.provider.decoder(back.turn), back.client.encoder(back.turn), watch)
        return await _pump_translated(call, resp, translator, back.keep, back.tools)
    translator = StreamTranslator(back.provider.decoder(back.turn), back.client.encoder(back.turn))
    # A whole answer (streaming off, or a server that ignores stream: true): replayed as the
    # client's stream. A stream is opened once there is something to send, so a failure before
    # that is an error answer, and one after it the stream's own error event.
    head = translator.start()
    out = await open_sse(call.request, call.obs) if head else None
    if out is not None:
        await out.write(head)
    try:
        answer = await read_json(resp, call.provider, back.provider.answer_key, back.provider.answer_kind)
    except ProxyError as exc:
        if out is None:
            raise
        await out.write(translator.fail(exc.message))
        await out.write_eof()
        return out
    items = [*pivot.completion_chunks(back.completion(answer), include_usage=True), pivot.END]
    body = translator.feed_items(items)
    if out is None:
        out = await open_sse(call.request, call.obs)
    await out.write(body)
    usage = translator.usage
    call.obs.usage = usage_of(usage if usage is not None else answer.get("usage"))
    await back.keep(translator.encoder.answer)
    await out.write(translator.encoder.finish())
    await out.write_eof()
    return out


async def _pump_translated(
    call: Call, resp: aiohttp.ClientResponse, translator: StreamTranslator, keep: _Keeper, tools: ToolCheck | None
) -> web.StreamResponse:
    """Relay an upstream stream through ``translator``; a broken upstream ends in the client
    wire's failure. The turn is stored before the last event goes out."""
    out = await open_sse(call.request, call.obs)
    head = translator.start()
    if head:
        await out.write(head)
    failure = await pump(resp, out, call.provider, call.obs, translator.feed, until=lambda: translator.ended)
    if failure is not None:
        call.obs.failed(failure)
    tail = translator.fail(failure.message) if failure else translator.finish()
    if tools is not None and translator.watch is not None:
        tools.done(translator.watch)
    call.obs.usage = usage_of(translator.usage)
    await keep(translator.encoder.answer)
    await out.write(tail)
    await out.write_eof()
    if failure is None:
        await read_rest(resp)
    return out
