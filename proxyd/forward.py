"""The way in, from a routed request to the provider: the request on the wire it is sent on.

client wire → the wire the provider is spoken to on → (through the pivot, when they differ) →
the body fitted to the provider → :func:`send_upstream`; the answer's head then goes to
:func:`proxyd.answering.answer`, which never comes back here but with a ``wire: auto`` refusal.
Each decision of the way in is made once, here:

- the provider's wire: :meth:`Runtime.spoken_wire` (its config, or what a ``wire: auto``
  provider showed); a refusal sends this very request on to the next wire
  (:func:`proxyd.autowire.next_wire`);
- a whole answer asked for, to be replayed as a stream, for providers or models that do not
  stream (:func:`_wants_whole`);
- what the way back needs to know: one :class:`~proxyd.exchange.Exchange`;
- a provider whose server proxyd runs: the request held on it while it starts and answers
  (:func:`proxyd.local.waiting.on_local`), and a small context fitted (:mod:`proxyd.local.context`).

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
from proxyd.answering import answer
from proxyd.autowire import NoRoute, next_wire
from proxyd.bodies import release
from proxyd.config.settings import Provider
from proxyd.context_fit import clamp
from proxyd.counting import count
from proxyd.errors import ProxyError, bad_request
from proxyd.exchange import Exchange
from proxyd.failover import TryNext
from proxyd.fitting import drop_cache_control, streaming_off
from proxyd.headers import upstream_request_headers
from proxyd.local.context import fits_context, window_of
from proxyd.local.waiting import on_local
from proxyd.metrics import METRICS
from proxyd.observe import Observation
from proxyd.routing import Route, Target
from proxyd.runtime import RUNTIME
from proxyd.spend.gate import GATE
from proxyd.store.history import with_history
from proxyd.toolcheck import ToolCheck, tool_check
from proxyd.upstream import send, upstream_url
from proxyd.wire_learning import Attempt, unsendable
from proxyd.wires.registry import (
    WIRES,
    TranslationError,
    Wire,
    client_wire,
    counting_wire,
    endpoint_wire,
    stream_wire,
)
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
    if route.provider.local is None and (route.entry is None or route.entry.local is None):
        return await _forward(call, target, body, parsed)
    return await _on_local(call, target, body, parsed)


async def _on_local(call: Call, target: Target, body: bytes | None, parsed: Body | None) -> web.StreamResponse:
    """A server proxyd runs: the request is held on it from before it may have to start until its
    answer is done; a prompt that may be past its context is counted first."""

    async def go() -> web.StreamResponse:
        if parsed is not None and body is not None:
            await fits_context(call.request, call.route, call.session, parsed, len(body))
        return await _forward(call, target, body, parsed)

    stream = parsed is not None and parsed.get("stream") is True
    try:
        client = client_wire(target.endpoint)
        return await on_local(call.request, call.provider.name, call.route.model, stream, client, call.obs, go,
                              call.fail_over)  # fmt: skip
    except ProxyError as exc:
        if call.fail_over and exc.code in failover.ERRORS:
            raise TryNext(failover.ERRORS[exc.code], detail=exc.message) from None
        raise


async def _forward(call: Call, target: Target, body: bytes | None, parsed: Body | None) -> web.StreamResponse:
    request, route, obs = call.request, call.route, call.obs
    if route.provider.budget is not None:  # a provider's account cap: checked for each target tried
        wire = endpoint_wire(target.endpoint)
        gate = request.app[GATE]
        obs.ticket = await gate.admit_provider(obs.ticket, obs.client, route.provider, wire.name if wire else None)
    if parsed is not None and route.rewritten:
        parsed["model"] = route.model
    spoken = request.app[RUNTIME].spoken_wire(route.provider, route.model)
    counter = counting_wire(target.endpoint)
    if counter is not None and parsed is not None:
        if spoken != counter.name:  # only a provider on the counter's own wire counts it as sent
            return await count(call.session, route.provider, route.model, counter, parsed, obs)
        counted = await _as_sent(call, target, body, parsed, counter.count_path(route.model or ""))
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
    auto = call.provider.wire == "auto"
    attempt = Attempt(spoken or client.name, "learned" if spoken else "unknown")
    tried = [attempt.wire]
    asked = list(tried)  # the wires the provider was asked on (a request one cannot carry is not sent)
    answered = await _on_wire(call, target, raw, parsed, client, attempt, auto)
    while isinstance(answered, NoRoute):
        wire = next_wire(client.name, tried)
        if wire is None:
            raise autowire.served_nowhere(call.provider.name, call.provider.base_url, [WIRES[w].path for w in asked],
                                          answered)  # fmt: skip
        tried.append(wire)
        refused = answered
        answered = await _on_wire(call, target, raw, parsed, client, Attempt(wire, "probing", refused), auto)
        if answered is not refused:  # the request went out on that wire
            asked.append(wire)
    return answered


async def _on_wire(
    call: Call, target: Target, raw: bytes | None, parsed: Body, client: Wire, attempt: Attempt, auto: bool
) -> web.StreamResponse | NoRoute:
    if attempt.wire == client.name:
        ex, data = await _same_wire(call, target, raw, parsed, client)
    else:
        prepared = await _translated(call, parsed, client, WIRES[attempt.wire], attempt)
        if isinstance(prepared, NoRoute):
            return prepared
        ex, data = prepared
    assert ex.wire is not None
    translated = f"{client.name}->{ex.wire.name}" if ex.translated else None
    resp = await send_upstream(call, "POST", ex.path, ex.query, data, ex.wire.name, translated)
    return await answer(call.request, resp, ex, attempt if auto else None)


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


def fit(wire: Wire, body: Body, call: Call) -> Body | None:
    """The body fitted to the provider's compat settings and the model's declarations, or None."""
    fitted, notes = wire.fit(body, call.provider, call.route.entry)
    window = window_of(call.request, call.route)
    if window is not None:  # a local model's small context: the output limit fitted beside the prompt
        clamped, note = clamp(fitted or body, window, call.request.content_length or 0)
        if clamped is not None and note is not None:
            fitted, notes = clamped, [*notes, note]
    if notes:
        structlog.get_logger("proxyd").info("request_adapted", provider=call.provider.name, changes=notes)
    return fitted


async def _as_sent(
    call: Call, target: Target, body: bytes | None, parsed: Body | None, path: str | None = None
) -> web.StreamResponse:
    """Endpoints proxyd does not translate (embeddings, audio, files...): the body as sent, the
    model rewritten when routing chose another name. ``path``: a wire that names the model in the
    path (Gemini's ``countTokens``) says where, and the body carries no model."""
    if path is not None and parsed is not None:
        parsed = {k: v for k, v in parsed.items() if k != "model"}
        body = jsonbody.dump(parsed)
    wire = stream_wire(target.endpoint)
    whole = parsed is not None and _wants_whole(call, target, parsed)
    include_usage = False
    if whole:
        assert wire is not None and parsed is not None  # only endpoints with a known wire get past _wants_whole
        include_usage = wire.wants_usage(parsed)
        parsed = wire.whole(parsed)
    if parsed is not None and (call.route.rewritten or whole):
        body = jsonbody.dump(parsed)
    path = path or target.rest
    resp = await send_upstream(call, call.request.method, path, target.query, body, wire.name if wire else "other")
    ex = Exchange(call.provider, path, call.obs, wire, stream=whole, whole=whole, include_usage=include_usage)
    answered = await answer(call.request, resp, ex)
    assert not isinstance(answered, NoRoute)  # only a wire: auto attempt is ever refused
    return answered


async def _same_wire(
    call: Call, target: Target, raw: bytes | None, parsed: Body, client: Wire
) -> tuple[Exchange, bytes | None]:
    """The request on the client's own wire: what the way back needs, and the bytes to send."""
    fitted = fit(client, parsed, call)
    body = fitted or parsed
    tools = await _tool_check(call, client.offered_tools(body), client, body) if body.get("tools") else None
    whole = _wants_whole(call, target, body)
    data: bytes | None
    path, query = target.rest, target.query
    if client.model_in_path:  # the model, and streaming, go in the path (the routed model's)
        path, query, sent = client.upstream(client.whole(body) if whole else body, call.route.model or "")
        data = jsonbody.dump(sent)
    elif whole:
        data = jsonbody.dump(client.whole(body))
    elif fitted is not None or call.route.rewritten:
        data = jsonbody.dump(body)
    else:
        data = raw  # nothing changed: the client's own bytes pass untouched
    turn = tools.turn if tools is not None and tools.rewrites(client) else None
    ex = Exchange(call.provider, path, call.obs, client, client, tools, stream=body.get("stream") is True,
                  whole=whole, include_usage=whole and client.wants_usage(body), turn=turn, query=query)  # fmt: skip
    return ex, data


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


async def _translated(
    call: Call, body: Body, client: Wire, provider: Wire, attempt: Attempt
) -> tuple[Exchange, bytes] | NoRoute:
    """The request through the pivot onto the provider's wire: what the way back needs, and the
    bytes to send; a ``wire: auto`` provider's refusal stands when the request has no form there."""
    request = call.request
    request.app[METRICS].translations.labels(client.name, provider.name).inc()
    full = await with_history(request, body) if client.stateful else body
    try:
        pivoted, sent = _outbound(call, full, client, provider)
    except ProxyError:
        refused = unsendable(attempt) if call.provider.wire == "auto" else None
        if refused is not None:
            return refused  # this request has no form on that wire: it cannot tell anything
        raise
    tools = await _tool_check(call, pivoted, client, body)
    streaming = sent.get("stream") is True
    whole = streaming and streaming_off(call.provider, call.route.entry) is not None
    if whole:
        sent = provider.whole(sent)  # ask for the whole answer; it is replayed as the client's stream
    path, query, sent = provider.upstream(sent, call.route.model or str(body.get("model") or ""))
    turn = Turn(body, f"resp_{call.obs.request_id}", str(body.get("model") or ""), int(time.time()),
                pivoted.tool_names, client.wants_usage(body))  # fmt: skip
    ex = Exchange(call.provider, path, call.obs, provider, client, tools, stream=streaming, whole=whole, query=query,
                  turn=turn, keep=full if client.stateful else None, translated=True)  # fmt: skip
    return ex, jsonbody.dump(sent)


def _outbound(call: Call, full: Body, client: Wire, provider: Wire) -> tuple[Pivoted, Body]:
    """The client's request in the pivot's form, and as the provider's wire and compat want it."""
    settings = call.provider
    try:
        pivoted = client.to_pivot(full)
        body = pivoted.body
        if not provider.breakpoints and settings.compat.cache_control == "drop":
            body = drop_cache_control(body) or body  # breakpoints only the provider's servers would refuse
        if "prompt_cache_key" in body and settings.compat.prompt_cache_key == "drop":
            body = {k: v for k, v in body.items() if k != "prompt_cache_key"}  # a field most servers do not know
        sent = provider.from_pivot(body)
    except TranslationError as exc:
        raise bad_request(exc.message, param=exc.param) from None
    if settings.prompt_cache == "auto":
        sent = provider.prime_cache(sent) or sent
    if pivoted.dropped:
        structlog.get_logger("proxyd").info(
            "translation_dropped", provider=call.provider.name, dropped=list(pivoted.dropped)
        )
    return pivoted, fit(provider, sent, call) or sent
