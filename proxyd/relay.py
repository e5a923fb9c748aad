"""Relaying a provider's answer to the client: the one place where stream I/O meets pure checks.

Each upstream read is written to the client at once (no coalescing, no waiting for a line end).
A copy of SSE bytes feeds a :class:`~proxyd.stream_end.StreamCheck`, so a stream that breaks,
stalls past ``timeouts.idle_s`` or just stops early ends with the wire's own error event instead
of a clean end. A small plain body of known length (:data:`WHOLE_BODY_MAX`) is read whole and
sent in one write with its headers, which halves the socket writes of a typical non-streaming
answer; if it breaks, nothing was sent yet and the client gets a 502. A larger plain body that
breaks is cut off without its final chunk, so the client sees a truncated response, never a
complete-looking one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web

from proxyd.bodies import idle_error, read_upto, read_whole
from proxyd.config.settings import Provider
from proxyd.drain import answer_shutdown, is_shutdown
from proxyd.errors import ProxyError, upstream_error
from proxyd.exchange import Exchange
from proxyd.headers import downstream_response_headers
from proxyd.idle import IdleDeadline
from proxyd.observe import Observation
from proxyd.stream_end import StreamCheck
from proxyd.upstream import map_exception
from proxyd.usage import TAIL_BYTES, bounded_tail, usage_in_tail, usage_of

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# A stream opened before its answer came (while a local server started): the answer goes on in it.
OPENED = web.RequestKey("opened", web.StreamResponse)
# Bodies up to this size with a Content-Length are relayed whole: a client cannot use half a
# JSON document, and any healthy upstream sends this much well within timeouts.idle_s.
WHOLE_BODY_MAX = 256 * 1024


async def relay(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, body: bytes | None
) -> web.StreamResponse:
    """A successful answer on the client's own wire, as it came (``body``: already read whole)."""
    if body is not None:
        return relay_read(resp, body, ex)
    if resp.content_type == "text/event-stream":
        # Only wires whose terminal marker proxyd knows are checked; other streams (audio
        # events, say) pass as they are, and are cut off visibly if the upstream breaks.
        check = ex.wire.check() if ex.wire is not None else None
        return await _relay_body(request, resp, ex, check, sse=True)
    if ex.tools is not None and _is_json(resp):  # its calls are judged on the whole answer
        return relay_read(resp, await read_whole(resp, ex.provider), ex)
    if _small(resp):
        return await _relay_whole(resp, ex)
    return await _relay_body(request, resp, ex, None, sse=False)


def _small(resp: aiohttp.ClientResponse) -> bool:
    length = resp.content_length
    return length is not None and length <= WHOLE_BODY_MAX and "Content-Encoding" not in resp.headers


async def _relay_whole(resp: aiohttp.ClientResponse, ex: Exchange) -> web.Response:
    body = await read_upto(resp, ex.provider, WHOLE_BODY_MAX)
    if len(body) != resp.content_length:  # aiohttp checks this too; a short body must never pass
        raise upstream_error(502, f"provider {ex.provider.name!r} sent a short body", "upstream_protocol_error")
    ex.obs.relayed(body)
    if _is_json(resp):
        ex.obs.usage = usage_in_tail(body[-TAIL_BYTES:], (ex.wire.usage if ex.wire is not None else usage_of))
    headers = downstream_response_headers(resp.headers.items())
    return web.Response(status=resp.status, reason=resp.reason, body=body, headers=headers)


def relay_read(resp: aiohttp.ClientResponse, body: bytes, ex: Exchange) -> web.Response:
    """Relay a successful answer whose body was read whole first (to be looked at)."""
    if ex.tools is not None and ex.wire is not None and _is_json(resp):
        body = ex.tools.answer_bytes(ex.wire, body)
    ex.obs.relayed(body)
    if _is_json(resp):
        ex.obs.usage = usage_in_tail(body[-TAIL_BYTES:], (ex.wire.usage if ex.wire is not None else usage_of))
    headers = downstream_response_headers(resp.headers.items())
    return web.Response(status=resp.status, reason=resp.reason, body=body, headers=headers)


async def open_sse(request: web.Request, obs: Observation) -> web.StreamResponse:
    out: web.StreamResponse | None = request.get(OPENED)
    if out is None:
        out = web.StreamResponse(status=200, headers=_SSE_HEADERS)
        await out.prepare(request)
    obs.status = 200
    obs.streaming()
    return out


async def _relay_body(
    request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange, check: StreamCheck | None, *, sse: bool
) -> web.StreamResponse:
    opened: web.StreamResponse | None = request.get(OPENED) if sse else None
    out: web.StreamResponse
    if opened is not None:
        out = opened
    else:
        out = web.StreamResponse(
            status=resp.status, reason=resp.reason, headers=downstream_response_headers(resp.headers.items())
        )
        if sse:
            out.headers.update(_SSE_HEADERS)
        elif resp.content_length is not None and "Content-Encoding" not in resp.headers:
            out.content_length = resp.content_length
        await out.prepare(request)
    obs = ex.obs
    obs.status = resp.status
    if sse:
        obs.streaming()
    tail = _Tail() if not sse and _is_json(resp) else None
    convert = check.observe if check is not None else (tail.add if tail is not None else None)
    watch = ex.tools.observer(ex.wire, check) if ex.tools is not None and ex.wire and check else None
    failure = await pump(resp, out, ex.provider, obs, convert)
    if failure is None and check is not None:
        tail_bytes = check.closing()
        if tail_bytes is None:
            failure = upstream_error(
                502,
                f"provider {ex.provider.name!r} ended the stream before it was complete",
                "stream_incomplete",
            )
        elif tail_bytes:
            await out.write(tail_bytes)
    if check is not None:
        obs.usage = check.usage()
    elif tail is not None and failure is None:
        obs.usage = usage_in_tail(tail.data, (ex.wire.usage if ex.wire is not None else usage_of))
    if failure is None:
        if watch is not None:
            watch.close()
        await out.write_eof()
    else:
        await _end_broken(request, out, check, failure, obs)
    return out


async def _end_broken(
    request: web.Request, out: web.StreamResponse, check: StreamCheck | None, failure: ProxyError, obs: Observation
) -> None:
    obs.failed(failure)
    if check is not None:
        await out.write(check.failure(failure.message, failure.code or "upstream_error", f"resp_{obs.request_id}"))
        await out.write_eof()
    elif request.transport is not None:
        request.transport.close()  # without the final chunk: the client must see a cut body


def _is_json(resp: aiohttp.ClientResponse) -> bool:
    return resp.content_type == "application/json" and resp.status < 300


class _Tail:
    """The last bytes of a relayed JSON body, where its ``usage`` object sits."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def add(self, chunk: bytes) -> bytes:
        self.data = bounded_tail(self.data, chunk)
        return chunk


async def pump(
    resp: aiohttp.ClientResponse,
    out: web.StreamResponse,
    provider: Provider,
    obs: Observation,
    convert: Callable[[bytes], bytes] | None = None,
    until: Callable[[], bool] | None = None,
) -> ProxyError | None:
    """Copy the body, each read written at once (through ``convert`` when given), until it ends
    or ``until()`` says the rest does not matter; return the upstream failure that ended it
    early, if any.

    Errors writing to the client propagate: the client is gone and there is nobody to tell.
    """
    content = resp.content
    idle = IdleDeadline(provider.timeouts.idle_s)
    try:
        while True:
            idle.reading()
            try:
                chunk = await content.readany()
            except (aiohttp.ClientError, OSError) as exc:
                return map_exception(exc, provider)
            idle.since = None  # a slow client is not an idle upstream
            if not chunk:
                return None
            obs.relayed(chunk)
            data = convert(chunk) if convert is not None else chunk
            if data:
                await out.write(data)
            if until is not None and until():
                return None
    except asyncio.CancelledError as exc:
        if idle.timed_out():  # only reads run under the deadline
            return idle_error(provider)
        if not is_shutdown(exc):
            raise
        return answer_shutdown(" and this stream ran past shutdown_grace_s")  # its error event follows
    finally:
        idle.close()
