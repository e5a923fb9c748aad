"""Relaying a provider's answer to the client: the one place where stream I/O meets pure checks.

Each upstream read is written to the client at once (no coalescing, no waiting for a line end).
A copy of SSE bytes feeds a :class:`~proxyd.streamcheck.StreamCheck`, so a stream that breaks,
stalls past ``timeouts.idle_s`` or just stops early ends with the wire's own error event instead
of a clean end. A plain body that breaks is cut off without its final chunk, so the client sees
a truncated response, never a complete-looking one.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from proxyd.config import Provider
from proxyd.errors import ProxyError, reshape_upstream_error, upstream_error
from proxyd.headers import downstream_response_headers
from proxyd.streamcheck import StreamCheck, StreamWire
from proxyd.synth import completion_to_sse
from proxyd.upstream import MAX_ERROR_BODY, map_exception

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MAX_REPLAY_BODY = 64 * 1024 * 1024
_STREAM_WIRES: dict[str, StreamWire] = {
    "chat.completions": "chat",
    "completions": "chat",
    "responses": "responses",
    "responses.item": "responses",  # GET /responses/{id}?stream=true
}


@dataclass(frozen=True)
class Exchange:
    """What the relay needs to know about the request it answers."""

    provider: Provider
    endpoint: str
    path: str  # the upstream path after base_url, for messages
    request_id: str
    replay_as_stream: bool = False  # the client asked to stream a ``streaming: false`` provider
    include_usage: bool = False


async def relay(request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange) -> web.StreamResponse:
    try:
        if 300 <= resp.status < 400:
            raise _redirect_error(resp, ex)
        if resp.status >= 400:
            return await _relay_error(resp, ex)
        if ex.replay_as_stream:
            return await _replay_as_stream(request, resp, ex)
        if resp.content_type == "text/event-stream":
            # Only wires whose terminal marker proxyd knows are checked; other streams (audio
            # events, say) pass as they are, and are cut off visibly if the upstream breaks.
            wire = _STREAM_WIRES.get(ex.endpoint)
            return await _relay_body(request, resp, ex, StreamCheck(wire) if wire else None, sse=True)
        return await _relay_body(request, resp, ex, None, sse=False)
    finally:
        # A fully read body returns its connection to the pool; anything else (client gone,
        # upstream broken, timeout) closes it, which also stops a provider still generating.
        if resp.content.at_eof() and not resp.closed:
            resp.release()
        else:
            resp.close()


def _redirect_error(resp: aiohttp.ClientResponse, ex: Exchange) -> ProxyError:
    where = resp.headers.get("Location", "(no Location header)")
    return upstream_error(
        502,
        f"provider {ex.provider.name!r} answered {resp.status} redirecting to {where[:300]}; proxyd does not "
        "follow redirects: set base_url to the final address",
        "upstream_redirect",
    )


async def _relay_error(resp: aiohttp.ClientResponse, ex: Exchange) -> web.Response:
    try:
        async with asyncio.timeout(ex.provider.timeouts.idle_s):
            body = await resp.content.read(MAX_ERROR_BODY)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise map_exception(exc, ex.provider) from None
    key = ex.provider.api_key
    if key and key.encode() in body:  # some gateways echo the key they rejected
        body = body.replace(key.encode(), b"[redacted]")
    shaped = reshape_upstream_error(
        resp.status, body, provider=ex.provider.name, base_url=ex.provider.base_url, path=ex.path
    )
    # 405/501, or a 404 that is not the provider's own OpenAI-shaped error (an unknown model, say),
    # means the provider has no /responses at all.
    no_endpoint = resp.status in (405, 501) or (resp.status == 404 and shaped is not None)
    if ex.endpoint == "responses" and no_endpoint:
        shaped = ProxyError(
            501,
            f"provider {ex.provider.name!r} has no Responses API (it answered {resp.status} to {ex.path}). "
            "Translating Responses to Chat Completions is not built yet: use /v1/chat/completions, "
            "or a provider whose wire is 'responses'",
            type="invalid_request_error",
            code="responses_not_supported",
        )
    if shaped is not None:
        return web.Response(status=shaped.status, body=shaped.body_bytes(), content_type="application/json")
    headers = downstream_response_headers(resp.headers.items())
    return web.Response(status=resp.status, body=body, headers=headers)


async def _replay_as_stream(request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange) -> web.StreamResponse:
    try:
        async with asyncio.timeout(ex.provider.timeouts.idle_s):
            body = await resp.content.read(MAX_REPLAY_BODY)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise map_exception(exc, ex.provider) from None
    try:
        completion = json.loads(body)
    except (ValueError, RecursionError):
        completion = None
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise upstream_error(
            502, f"provider {ex.provider.name!r} did not answer with a chat completion", "upstream_protocol_error"
        )
    out = web.StreamResponse(headers=_SSE_HEADERS)
    await out.prepare(request)
    await out.write(completion_to_sse(completion, include_usage=ex.include_usage))
    await out.write_eof()
    return out


async def _relay_body(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, check: StreamCheck | None, *, sse: bool
) -> web.StreamResponse:
    out = web.StreamResponse(
        status=resp.status, reason=resp.reason, headers=downstream_response_headers(resp.headers.items())
    )
    if sse:
        out.headers.update(_SSE_HEADERS)
    elif resp.content_length is not None and "Content-Encoding" not in resp.headers:
        out.content_length = resp.content_length
    await out.prepare(request)
    failure = await _pump(resp, out, check, ex.provider)
    if failure is None and check is not None:
        tail = check.closing()
        if tail is None:
            failure = upstream_error(
                502,
                f"provider {ex.provider.name!r} ended the stream before it was complete",
                "stream_incomplete",
            )
        elif tail:
            await out.write(tail)
    if failure is None:
        await out.write_eof()
    elif check is not None:
        await out.write(check.failure(failure.message, failure.code or "upstream_error", f"resp_{ex.request_id}"))
        await out.write_eof()
    elif request.transport is not None:
        request.transport.close()  # without the final chunk: the client must see a cut body
    return out


async def _pump(
    resp: aiohttp.ClientResponse, out: web.StreamResponse, check: StreamCheck | None, provider: Provider
) -> ProxyError | None:
    """Copy the body; return the upstream failure that ended it early, if any.

    Errors writing to the client propagate: the client is gone and there is nobody to tell.
    """
    loop = asyncio.get_running_loop()
    idle = provider.timeouts.idle_s
    content = resp.content
    try:
        async with asyncio.timeout(None) as deadline:
            while True:
                deadline.reschedule(loop.time() + idle)
                try:
                    chunk = await content.readany()
                except (aiohttp.ClientError, OSError) as exc:
                    return map_exception(exc, provider)
                if not chunk:
                    return None
                deadline.reschedule(None)  # a slow client is not an idle upstream
                await out.write(chunk)
                if check is not None:
                    check.feed(chunk)
    except TimeoutError:  # only reads run under the deadline
        return upstream_error(
            504,
            f"provider {provider.name!r} sent nothing for {idle:g} s (timeouts.idle_s)",
            "upstream_timeout",
        )
