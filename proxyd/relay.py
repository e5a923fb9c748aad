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
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from proxyd import jsoncodec
from proxyd.catalog import not_in_catalog
from proxyd.config import Provider
from proxyd.drain import answer_shutdown, is_shutdown
from proxyd.error_answer import answer_error
from proxyd.errors import ProxyError, names_model, provider_message, reshape_upstream_error, upstream_error
from proxyd.headers import downstream_response_headers
from proxyd.idle import IdleDeadline
from proxyd.observe import Observation
from proxyd.redact import blank_provider_secrets
from proxyd.runtime import RUNTIME
from proxyd.stream_end import StreamCheck
from proxyd.toolcheck import ToolCheck
from proxyd.upstream import MAX_ERROR_BODY, map_exception
from proxyd.usage import TAIL_BYTES, bounded_tail, usage_in_tail, usage_of
from proxyd.wires.registry import Wire

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MAX_REPLAY_BODY = 64 * 1024 * 1024
# Bodies up to this size with a Content-Length are relayed whole: a client cannot use half a
# JSON document, and any healthy upstream sends this much well within timeouts.idle_s.
WHOLE_BODY_MAX = 256 * 1024


@dataclass(frozen=True)
class Replay:
    """The client asked for a stream and the provider was asked for a whole answer: replay it."""

    include_usage: bool  # the client's wire sends a usage chunk only when asked


@dataclass(frozen=True)
class Exchange:
    """What the relay needs to know about the request it answers."""

    provider: Provider
    path: str  # the upstream path after base_url, for messages
    obs: Observation
    wire: Wire | None = None  # whose stream rules the answer follows, when proxyd knows them
    replay: Replay | None = None
    tools: ToolCheck | None = None  # the request offered tools: the answer's calls are checked


async def relay(request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange) -> web.StreamResponse:
    try:
        if 300 <= resp.status < 400:
            raise _redirect_error(resp, ex)
        if resp.status >= 400:
            return await _relay_error(request, resp, ex)
        if ex.replay is not None:
            return await _replay_as_stream(request, resp, ex)
        if resp.content_type == "text/event-stream":
            # Only wires whose terminal marker proxyd knows are checked; other streams (audio
            # events, say) pass as they are, and are cut off visibly if the upstream breaks.
            check = ex.wire.check() if ex.wire is not None else None
            return await _relay_body(request, resp, ex, check, sse=True)
        if ex.tools is not None and _is_json(resp):  # its calls are judged on the whole answer
            return await relay_read(request, resp, await read_whole(resp, ex.provider), ex)
        if _small(resp):
            return await _relay_whole(resp, ex)
        return await _relay_body(request, resp, ex, None, sse=False)
    finally:
        release(resp)


def release(resp: aiohttp.ClientResponse) -> None:
    """A fully read body returns its connection to the pool; anything else (client gone,
    upstream broken, timeout) closes it, which also stops a provider still generating."""
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


async def _relay_error(request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange) -> web.Response:
    return error_answer(request, resp, await read_error_body(resp, ex.provider), ex)


def error_answer(request: web.Request, resp: aiohttp.ClientResponse, body: bytes, ex: Exchange) -> web.Response:
    """The client's answer for a provider's error whose body was read (OpenAI-shaped as it
    came, or reshaped into that shape). A "no such model" for a model no catalog lists gets
    proxyd's view beside it: the catalog is looked at here, on the error's way, not per request."""
    shaped = reshape_upstream_error(
        resp.status, body, provider=ex.provider.name, base_url=ex.provider.base_url, path=ex.path
    )
    model = ex.obs.model
    if resp.status == 404 and names_model(404, body, model):
        note = not_in_catalog(request.app[RUNTIME].current.router, ex.provider.name, model)
        if note is not None:  # the provider's words (Ollama's "try pulling it") are not the whole story
            said = f"provider {ex.provider.name!r}: {provider_message(body)}"
            shaped = ProxyError(404, f"{said}; {note}", code="model_not_found")
    if shaped is not None:  # in the shape of the wire's own errors
        return answer_error(ex.wire, shaped)
    headers = downstream_response_headers(resp.headers.items())
    return web.Response(status=resp.status, body=body, headers=headers)


def _small(resp: aiohttp.ClientResponse) -> bool:
    length = resp.content_length
    return length is not None and length <= WHOLE_BODY_MAX and "Content-Encoding" not in resp.headers


async def _relay_whole(resp: aiohttp.ClientResponse, ex: Exchange) -> web.Response:
    body = await _read(resp, ex.provider, WHOLE_BODY_MAX)
    if len(body) != resp.content_length:  # aiohttp checks this too; a short body must never pass
        raise upstream_error(502, f"provider {ex.provider.name!r} sent a short body", "upstream_protocol_error")
    ex.obs.relayed(body)
    if _is_json(resp):
        ex.obs.usage = usage_in_tail(body[-TAIL_BYTES:])
    headers = downstream_response_headers(resp.headers.items())
    return web.Response(status=resp.status, reason=resp.reason, body=body, headers=headers)


async def read_error_body(resp: aiohttp.ClientResponse, provider: Provider) -> bytes:
    """A provider's error body, capped, with the provider's own secrets blanked if echoed."""
    return blank_provider_secrets(await _read(resp, provider, MAX_ERROR_BODY), provider)


async def read_json(resp: aiohttp.ClientResponse, provider: Provider, key: str, what: str) -> dict[str, Any]:
    """A whole JSON object holding ``key``, or a 502 saying the provider sent something else."""
    return parse_answer(await _read(resp, provider, MAX_REPLAY_BODY), provider, key, what)


async def read_whole(resp: aiohttp.ClientResponse, provider: Provider) -> bytes:
    """The whole body (up to :data:`MAX_REPLAY_BODY`), or a 502: a cut one must never be relayed."""
    body = await _read(resp, provider, MAX_REPLAY_BODY)
    if not resp.content.at_eof():
        raise upstream_error(
            502,
            f"provider {provider.name!r} sent an answer larger than {MAX_REPLAY_BODY // 1024 // 1024} MiB",
            "upstream_too_large",
        )
    return body


def parse_answer(body: bytes, provider: Provider, key: str, what: str) -> dict[str, Any]:
    try:
        value = jsoncodec.loads(body)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not isinstance(value.get(key), list):
        raise upstream_error(502, f"provider {provider.name!r} did not answer with {what}", "upstream_protocol_error")
    return value


async def _read(resp: aiohttp.ClientResponse, provider: Provider, limit: int) -> bytes:
    """The body up to ``limit`` bytes, read to its end (``content.read(n)`` returns after the
    first segment), each read within ``timeouts.idle_s``."""
    try:
        if resp.content.is_eof():  # all of it is here already: no reads to time
            body = await resp.content.read()
        else:
            body = await _read_timed(resp.content, provider.timeouts.idle_s, limit)
    except TimeoutError:
        raise _idle_error(provider) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise map_exception(exc, provider) from None
    return body[:limit] if len(body) > limit else body


async def _read_timed(content: aiohttp.StreamReader, idle: float, limit: int) -> bytes:
    loop = asyncio.get_running_loop()
    parts: list[bytes] = []
    size = 0
    async with asyncio.timeout(idle) as deadline:
        while size < limit:
            chunk = await content.readany()
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
            deadline.reschedule(loop.time() + idle)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def relay_read(
    request: web.Request, resp: aiohttp.ClientResponse, body: bytes, ex: Exchange
) -> web.StreamResponse:
    """Relay a successful answer whose body was read whole first (to be looked at)."""
    try:
        if ex.replay is not None:
            return await _replay(request, body, ex)
        if ex.tools is not None and ex.wire is not None and _is_json(resp):
            body = ex.tools.answer_bytes(ex.wire, body)
        ex.obs.relayed(body)
        if _is_json(resp):
            ex.obs.usage = usage_in_tail(body[-TAIL_BYTES:])
        headers = downstream_response_headers(resp.headers.items())
        return web.Response(status=resp.status, reason=resp.reason, body=body, headers=headers)
    finally:
        release(resp)


async def _replay_as_stream(request: web.Request, resp: aiohttp.ClientResponse, ex: Exchange) -> web.StreamResponse:
    return await _replay(request, await _read(resp, ex.provider, MAX_REPLAY_BODY), ex)


async def _replay(request: web.Request, body: bytes, ex: Exchange) -> web.StreamResponse:
    wire, replay = ex.wire, ex.replay
    assert wire is not None and replay is not None  # a replay is asked only on a known wire
    answer = parse_answer(body, ex.provider, wire.answer_key, wire.answer_kind)
    if ex.tools is not None:
        answer = ex.tools.answer(wire, answer) or answer
    ex.obs.usage = usage_of(answer.get("usage"))
    stream = wire.replay(answer, replay.include_usage)
    out = await open_sse(request, ex.obs)
    await out.write(stream)
    await out.write_eof()
    return out


async def open_sse(request: web.Request, obs: Observation) -> web.StreamResponse:
    out = web.StreamResponse(status=200, headers=_SSE_HEADERS)
    await out.prepare(request)
    obs.status = 200
    obs.streaming()
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
        obs.usage = usage_in_tail(tail.data)
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
            return _idle_error(provider)
        if not is_shutdown(exc):
            raise
        return answer_shutdown(" and this stream ran past shutdown_grace_s")  # its error event follows
    finally:
        idle.close()


async def read_rest(resp: aiohttp.ClientResponse, wait_s: float = 1.0) -> None:
    """Read what a finished stream still sends (usually just the end of its chunked body), so
    :func:`release` can keep the connection; a provider that goes on gets its connection closed."""
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with asyncio.timeout(wait_s):
            while not resp.content.at_eof() and await resp.content.readany():
                pass


def _idle_error(provider: Provider) -> ProxyError:
    idle = provider.timeouts.idle_s
    return upstream_error(
        504, f"provider {provider.name!r} sent nothing for {idle:g} s (timeouts.idle_s)", "upstream_timeout"
    )
