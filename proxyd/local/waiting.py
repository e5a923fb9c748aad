"""A request to a provider whose server proxyd runs: held on its server from before it waits
until its answer is done, so the server is never stopped under it.

A request that finds its server not ready waits for the start (``ready.timeout_s`` at most). A
streaming client is not left silent meanwhile: after :data:`KEEPALIVE_S` its stream opens and an
SSE comment goes out every :data:`KEEPALIVE_S` (every SSE parser skips comments, and the bytes keep
clients' and middleboxes' read timeouts from firing). The answer then goes on in that stream
(:data:`proxyd.relay.OPENED`); a failure after it opened ends it with the wire's error event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxyd import failover
from proxyd.errors import ProxyError, json_or_none
from proxyd.local.supervisor import LOCAL, Local, Server
from proxyd.observe import Observation
from proxyd.relay import OPENED, open_sse
from proxyd.wires.registry import Wire

KEEPALIVE_S = 2.0
Go = Callable[[], Awaitable[web.StreamResponse]]


async def on_local(
    request: web.Request, provider: str, model: str | None, stream: bool, client: Wire | None, obs: Observation,
    go: Go, fail_over: bool = False,
) -> web.StreamResponse:  # fmt: skip
    """``fail_over``: a model group may try its next target, which goes on in a stream opened here."""
    local = request.app.get(LOCAL)
    server = local.server_for(provider, model) if local is not None else None
    if local is None or server is None:  # not (or no longer) run by proxyd: an ordinary provider
        return await go()
    local.hold(server)
    try:
        if server.state == "ready":
            return await go()
        if not stream or client is None:
            await local.until_ready(server)
            return await go()
        return await _streaming(request, local, server, client, obs, go, fail_over)
    finally:
        await local.release(server)


async def _streaming(
    request: web.Request, local: Local, server: Server, client: Wire, obs: Observation, go: Go, fail_over: bool
) -> web.StreamResponse:
    began = time.monotonic()
    waiter = asyncio.ensure_future(local.until_ready(server))
    out: web.StreamResponse | None = None
    try:
        while not (await asyncio.wait({waiter}, timeout=KEEPALIVE_S))[0]:
            if out is None:
                out = request[OPENED] = await open_sse(request, obs)
            waited = time.monotonic() - began
            await out.write(f": proxyd is starting local server {server.name} ({waited:.0f} s)\n\n".encode())
        waiter.result()
        answered = await go()
    except ProxyError as exc:
        if out is None or (fail_over and exc.code in failover.ERRORS):
            raise  # an answer in the client's shape, or the group's next target (in the same stream)
        return await end_stream(out, client, exc, obs)
    finally:
        if not waiter.done():
            waiter.cancel()  # the client left: the start itself goes on, for the next request
    if out is None or answered is out:
        return answered
    return await end_stream(out, client, _error_of(answered, server.name), obs)


def _error_of(answered: web.StreamResponse, name: str) -> ProxyError:
    """The error answer the way back made (it could not be sent: the stream had opened)."""
    if answered.status < 400:
        return ProxyError(502, f"provider {name!r} answered a streaming request with a whole body, which cannot go "
                               "on in the stream proxyd opened while its server started; set streaming: false for "
                               "it", code="upstream_protocol_error")  # fmt: skip
    raw = answered.body if isinstance(answered, web.Response) else None
    body = json_or_none(raw) if isinstance(raw, bytes) else None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return ProxyError(
        answered.status,
        message if isinstance(message, str) else f"the provider answered HTTP {answered.status}",
        code=code if isinstance(code, str) else "upstream_error",
    )


async def end_stream(out: web.StreamResponse, client: Wire, exc: ProxyError, obs: Observation) -> web.StreamResponse:
    """End a stream that opened before its answer came with the client wire's error event."""
    obs.failed(exc)
    await out.write(client.check().failure(exc.message, exc.code or "upstream_error", f"resp_{obs.request_id}"))
    await out.write_eof()
    return out
