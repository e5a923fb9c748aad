"""Streams and bodies relayed through proxyd: unbuffered, complete, and never falsely complete."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from proxyd.relay import WHOLE_BODY_MAX
from proxyd.sse import SSEDecoder
from tests.conftest import FakeUpstream, ProxyClient
from tests.helpers import WAIT

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
CHAT = "/v1/chat/completions"


def chunk(text: str, finish: str | None = None) -> bytes:
    data = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


async def sse_response(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    return resp


def events(body: bytes) -> list[str]:
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(body) + decoder.flush()]


async def short_idle_proxy(proxy_factory: ProxyFactory, upstream: FakeUpstream, **timeouts: float) -> ProxyClient:
    return await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "timeouts": timeouts}]})


async def test_each_upstream_write_reaches_the_client_before_the_next_is_sent(
    proxy: ProxyClient, upstream: FakeUpstream
) -> None:
    # Lockstep: the upstream sends piece i only after the client has read piece i-1. A proxy
    # that coalesced, or waited for a newline, would deadlock here and the upstream would give up.
    pieces = [b'data: {"choices":[{"index":0,"delta":{"content":"a', b'b"},"finish_reason":null}]}\n', b"\n"]
    pieces += [chunk(str(i)) for i in range(5)] + [chunk("", "stop"), b"data: [DONE]\n\n"]
    received = [asyncio.Event() for _ in pieces]
    upstream_gave_up = []

    async def lockstep(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        for i, piece in enumerate(pieces):
            await resp.write(piece)
            await asyncio.sleep(0.05)
            try:
                await asyncio.wait_for(received[i].wait(), WAIT)
            except TimeoutError:
                upstream_gave_up.append(i)
                break
        await resp.write_eof()
        return resp

    upstream.handler = lockstep
    resp = await proxy.post(CHAT, json={"model": "fast", "stream": True})
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert (resp.headers["Cache-Control"], resp.headers["X-Accel-Buffering"]) == ("no-cache", "no")
    got = b""
    for i, piece in enumerate(pieces):
        while len(got) < sum(len(p) for p in pieces[: i + 1]):
            got += await asyncio.wait_for(resp.content.readany(), WAIT)
        assert got.endswith(piece), f"piece {i} did not arrive on its own"
        received[i].set()
    assert await resp.content.read() == b""
    assert not upstream_gave_up and got == b"".join(pieces)


async def test_client_disconnect_closes_the_upstream_stream(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    upstream_closed = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        try:
            for i in range(400):  # bounded: 400 chunks, 25 ms apart
                await resp.write(chunk(str(i)))
                await asyncio.sleep(0.025)
        except (ConnectionError, asyncio.CancelledError):
            upstream_closed.set()
            raise
        return resp

    upstream.handler = endless
    resp = await proxy.post(CHAT, json={"model": "fast", "stream": True})
    assert b"data:" in await resp.content.readany()
    resp.close()  # the client goes away mid-stream
    await asyncio.wait_for(upstream_closed.wait(), WAIT)


async def test_client_leaving_a_non_streaming_request_cancels_the_upstream_call(
    aiohttp_server: Callable[..., Awaitable[object]], proxy_factory: ProxyFactory
) -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", slow)
    server = await aiohttp_server(app)  # aiohttp's TestServer cancels handlers of departed clients
    client = await proxy_factory({"providers": [{"name": "p", "base_url": str(server.make_url("/v1"))}]})  # type: ignore[attr-defined]
    request = asyncio.create_task(client.post(CHAT, json={"model": "p/x"}))
    await asyncio.wait_for(started.wait(), WAIT)
    request.cancel()  # the client hangs up while the model is still thinking
    await asyncio.wait_for(cancelled.wait(), WAIT)


@pytest.mark.parametrize(
    ("tail", "expected_last"),
    [
        (chunk("", "stop") + b"data: [DONE]\n\n", "[DONE]"),
        (chunk("", "stop"), "[DONE]"),  # lax server without [DONE]: proxyd completes it
    ],
)
async def test_complete_chat_streams_end_with_done(
    proxy: ProxyClient, upstream: FakeUpstream, tail: bytes, expected_last: str
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        await resp.write(chunk("hello") + tail)
        await resp.write_eof()
        return resp

    upstream.handler = stream
    resp = await proxy.post(CHAT, json={"model": "fast", "stream": True})
    data = events(await resp.read())
    assert data[-1] == expected_last and data.count("[DONE]") == 1


async def test_chat_stream_that_stops_early_ends_with_an_error_event(
    proxy: ProxyClient, upstream: FakeUpstream
) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        await resp.write(chunk("partial answer"))
        await resp.write_eof()  # a clean close, but no finish_reason and no [DONE]
        return resp

    upstream.handler = cut
    resp = await proxy.post(CHAT, json={"model": "fast", "stream": True})
    data = events(await resp.read())
    assert "[DONE]" not in data
    assert json.loads(data[-1])["error"]["code"] == "stream_incomplete"


async def test_upstream_dying_mid_stream_is_an_error_event(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    async def dies(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        await resp.write(chunk("partial"))
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()  # connection reset, chunked body never terminated
        return resp

    upstream.handler = dies
    resp = await proxy.post(CHAT, json={"model": "fast", "stream": True})
    data = events(await resp.read())
    assert json.loads(data[0])["choices"][0]["delta"]["content"] == "partial"
    assert json.loads(data[-1])["error"]["type"] == "upstream_error"


async def test_idle_upstream_stream_times_out_with_an_error_event(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    async def stalls(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        await resp.write(chunk("first"))
        await asyncio.sleep(5)
        return resp

    upstream.handler = stalls
    client = await short_idle_proxy(proxy_factory, upstream, idle_s=0.3)
    resp = await client.post(CHAT, json={"model": "p/x", "stream": True})
    data = events(await asyncio.wait_for(resp.read(), WAIT))
    error = json.loads(data[-1])["error"]
    assert error["code"] == "upstream_timeout" and "0.3 s" in error["message"]


async def test_a_slow_client_is_not_an_idle_upstream(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    """The client stops reading for three idle periods while the upstream has sent it all: the
    relay waits on the client's socket, not on the upstream, and the stream ends whole."""
    piece = chunk("x" * 4000)
    count = 4000  # 16 MB: more than loopback's socket buffers, so the relay's writes wait

    async def fast(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        for _ in range(count):
            await resp.write(piece)
        await resp.write(chunk("", "stop") + b"data: [DONE]\n\n")
        return resp

    upstream.handler = fast
    client = await short_idle_proxy(proxy_factory, upstream, idle_s=0.3)
    resp = await client.post(CHAT, json={"model": "p/x", "stream": True})
    first = await resp.content.read(1000)
    await asyncio.sleep(1.0)
    rest = await asyncio.wait_for(resp.read(), WAIT)
    data = events(first + rest)
    assert data[-1] == "[DONE]" and len(data) == count + 2


async def test_reads_shorter_than_the_idle_limit_never_time_out(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """Eight pauses of 0.15 s under a 0.3 s limit: 1.2 s in all, and no read waited too long."""

    async def steady(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        for i in range(8):
            await resp.write(chunk(str(i)))
            await asyncio.sleep(0.15)
        await resp.write(chunk("", "stop") + b"data: [DONE]\n\n")
        return resp

    upstream.handler = steady
    client = await short_idle_proxy(proxy_factory, upstream, idle_s=0.3)
    resp = await client.post(CHAT, json={"model": "p/x", "stream": True})
    data = events(await asyncio.wait_for(resp.read(), WAIT))
    assert data[-1] == "[DONE]" and len(data) == 10


async def test_cut_responses_stream_ends_with_response_failed(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    created = {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "status": "in_progress"}}
    delta = {"type": "response.output_text.delta", "sequence_number": 1, "delta": "hi"}

    async def cut(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        for event in (created, delta):
            await resp.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        await resp.write_eof()
        return resp

    upstream.handler = cut
    resp = await proxy.post("/v1/responses", json={"model": "fast", "input": "hi", "stream": True})
    body = await resp.read()
    assert b"event: response.failed\n" in body
    failed = json.loads(events(body)[-1])
    assert failed["type"] == "response.failed" and failed["sequence_number"] == 2
    assert failed["response"]["id"] == "resp_1" and failed["response"]["status"] == "failed"


def cut_after(length: int, sent: bytes) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def short(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = length
        await resp.prepare(request)
        await resp.write(sent)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return resp

    return short


async def test_small_body_cut_short_is_a_502(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    # A small body is read whole before anything is sent, so a broken one becomes a clean error.
    upstream.handler = cut_after(1000, b'{"partial": ')
    resp = await proxy.post(CHAT, json={"model": "fast"})
    assert resp.status == 502
    assert (await resp.json())["error"]["code"] == "upstream_protocol_error"


async def test_large_body_cut_short_is_not_delivered_as_complete(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    upstream.handler = cut_after(WHOLE_BODY_MAX + 1, b'{"partial": ' + b" " * 70_000)
    resp = await proxy.post(CHAT, json={"model": "fast"})
    assert resp.status == 200  # sent as it came; the cut shows as a short body
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()


@pytest.mark.parametrize("size", [100_000, WHOLE_BODY_MAX, WHOLE_BODY_MAX + 1])
async def test_body_arriving_in_pieces_is_relayed_whole(proxy: ProxyClient, upstream: FakeUpstream, size: int) -> None:
    payload = json.dumps({"id": "c", "choices": [], "pad": "x" * (size - 37)}).encode()
    assert len(payload) == size

    async def slowly(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(payload)
        await resp.prepare(request)
        for start in range(0, len(payload), 30_000):
            await resp.write(payload[start : start + 30_000])
            await asyncio.sleep(0.02)
        await resp.write_eof()
        return resp

    upstream.handler = slowly
    resp = await proxy.post(CHAT, json={"model": "fast"})
    assert resp.status == 200 and await resp.read() == payload


async def test_non_streaming_body_keeps_length_and_headers(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    payload = json.dumps({"id": "chatcmpl-1", "choices": [], "pad": "x" * 200_000}).encode()

    async def big(request: web.Request) -> web.Response:
        return web.Response(
            body=payload, content_type="application/json", headers={"x-ratelimit-remaining-tokens": "7"}
        )

    upstream.handler = big
    resp = await proxy.post(CHAT, json={"model": "fast"})
    assert resp.headers["Content-Length"] == str(len(payload)) and resp.headers["x-ratelimit-remaining-tokens"] == "7"
    assert await resp.read() == payload


async def test_first_byte_timeout_is_504(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    async def thinks(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    upstream.handler = thinks
    client = await short_idle_proxy(proxy_factory, upstream, first_byte_s=0.3)
    resp = await client.post(CHAT, json={"model": "p/x"})
    assert resp.status == 504
    error = (await resp.json())["error"]
    assert error["code"] == "upstream_timeout" and "first_byte_s" in error["message"]


async def test_streams_of_other_endpoints_pass_unchecked(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    events_in = b'event: speech.audio.delta\ndata: {"audio": "AAA"}\n\nevent: speech.audio.done\ndata: {}\n\n'

    async def speech(request: web.Request) -> web.StreamResponse:
        resp = await sse_response(request)
        await resp.write(events_in)
        await resp.write_eof()
        return resp

    upstream.handler = speech
    resp = await proxy.post("/v1/audio/speech", json={"model": "fast", "input": "hi", "stream_format": "sse"})
    assert await resp.read() == events_in  # no [DONE] added, no error appended


async def test_replayed_completion_arriving_in_pieces_is_read_whole(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    # A streaming: false provider's answer is parsed whole before it is replayed as a stream.
    message = {"role": "assistant", "content": "y" * 200_000}
    payload = json.dumps({"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": message}]})

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for start in range(0, len(payload), 50_000):
            await resp.write(payload[start : start + 50_000].encode())
            await asyncio.sleep(0.02)
        await resp.write_eof()
        return resp

    upstream.handler = chunked
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "streaming": False}]})
    resp = await client.post(CHAT, json={"model": "p/x", "stream": True})
    body = await resp.read()
    assert resp.status == 200 and body.endswith(b"data: [DONE]\n\n"), body[-300:]
    assert "y" * 200_000 in "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events(body)[:-1])
