"""The server as `proxyd serve` runs it: socket options and slow-client deadlines."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from proxyd.config.settings import Keepalive, Listen
from proxyd.server import listen_socket
from tests.conftest import FakeUpstream, ProxyClient
from tests.helpers import WAIT

ProxyFactory = Callable[..., Awaitable[ProxyClient]]


def test_accepted_client_sockets_carry_keepalive_options() -> None:
    server = listen_socket(Listen(port=0), Keepalive(idle_s=3, interval_s=4, count=6))
    server.setblocking(True)
    try:
        with socket.create_connection(server.getsockname()[:2]):
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 3
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 4
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 6
    finally:
        server.close()


async def test_slow_header_client_is_dropped_while_others_are_served(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await proxy_factory(
        {"listen": {"header_timeout_s": 0.5}, "providers": [{"name": "p", "base_url": upstream.base_url}]}
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    closed = asyncio.create_task(reader.read())  # returns b"" when proxyd hangs up
    for piece in (b"POST /v1/chat/completions HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"X-Slow: 1\r\n"):
        writer.write(piece)
        await writer.drain()
        resp = await client.post("/v1/chat/completions", json={"model": "p/x"})  # others are not slowed
        assert resp.status == 200
        await asyncio.sleep(0.2)
    assert await asyncio.wait_for(closed, WAIT) == b""
    writer.close()
    assert not any(seen.headers.get("X-Slow") for seen in upstream.seen)


async def test_idle_keepalive_connection_is_closed(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory(
        {"listen": {"header_timeout_s": 0.3}, "providers": [{"name": "p", "base_url": upstream.base_url}]}
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    assert await asyncio.wait_for(reader.read(), WAIT) == b""  # never sent a byte
    writer.close()


async def test_slow_body_is_408(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory(
        {"listen": {"body_timeout_s": 0.3}, "providers": [{"name": "p", "base_url": upstream.base_url}]}
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    assert head.startswith(b"HTTP/1.1 408")
    writer.close()
    assert not upstream.seen


HOSTILE = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello on the plain port
    b"GARBAGE\r\n\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}",
    b"GET /v1/models/%ZZ%00%ff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /v1/files/%00%ZZ?x=%ff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"POST /providers/%2e%2e/v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 14\r\nConnection: close\r\n\r\n{"model": "\xff"}',
]


async def test_hostile_requests_never_take_the_daemon_down(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    for payload in HOSTILE:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(payload)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), WAIT)
        writer.close()
        if answer:  # answered with a 4xx (aiohttp itself answers unparsable HTTP as 1.0), or closed
            assert answer[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 "), answer[:80]
            assert answer[9:10] == b"4" or answer[9:12] == b"200", answer[:300]
    resp = await proxy.post("/v1/chat/completions", json={"model": "fast"})
    assert resp.status == 200
