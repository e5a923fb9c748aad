"""Upstream failures become clear errors naming the provider; sockets carry TCP keepalive."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxyd.config.settings import Keepalive, Tls
from proxyd.upstream import create_session
from tests.conftest import FakeUpstream, ProxyClient
from tests.daemons import free_port

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
CHAT = "/v1/chat/completions"
KEY = "sk-upstream-secret-123"


async def call(proxy_factory: ProxyFactory, base_url: str) -> tuple[int, dict[str, Any]]:
    client = await proxy_factory({"providers": [{"name": "p", "base_url": base_url, "api_key": KEY}]})
    resp = await client.post(CHAT, json={"model": "p/x"})
    text = await resp.text()
    assert KEY not in text
    return resp.status, (await resp.json())["error"]


async def test_refused_connection_is_502_naming_provider_and_url(proxy_factory: ProxyFactory) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    status, error = await call(proxy_factory, base)
    assert status == 502 and error["code"] == "upstream_unreachable"
    assert "'p'" in error["message"] and base in error["message"] and "refused" in error["message"].lower()


async def test_https_to_a_plain_http_server_is_a_tls_error(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    status, error = await call(proxy_factory, upstream.base_url.replace("http://", "https://"))
    assert status == 502 and error["code"] == "upstream_tls_error"


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_untrusted_certificate_is_a_502_saying_why(
    proxy_factory: ProxyFactory, aiohttp_server: Callable[..., Awaitable[Any]], self_signed: ssl.SSLContext
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    server = await aiohttp_server(app, ssl=self_signed)
    status, error = await call(proxy_factory, f"https://127.0.0.1:{server.port}/v1")
    assert status == 502 and error["code"] == "upstream_tls_error"
    assert "certificate" in error["message"] and "self-signed" in error["message"]


@pytest.fixture
def gateway_cert(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 (in subjectAltName, as verification needs)."""
    cert, key = tmp_path / "gw.pem", tmp_path / "gw.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=gateway",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


async def test_tls_ca_file_trusts_an_internal_gateway_and_verify_false_skips_checks(
    proxy_factory: ProxyFactory,
    aiohttp_server: Callable[..., Awaitable[Any]],
    gateway_cert: tuple[Path, ssl.SSLContext],
) -> None:
    cert, context = gateway_cert

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    server = await aiohttp_server(app, ssl=context)
    base = f"https://127.0.0.1:{server.port}/v1"
    client = await proxy_factory({"providers": [
        {"name": "trusted", "base_url": base, "tls": {"ca_file": str(cert)}},
        {"name": "unchecked", "base_url": base, "tls": {"verify": False}},
        {"name": "plain", "base_url": base},
    ]})  # fmt: skip
    for name, status in (("trusted", 200), ("unchecked", 200), ("plain", 502)):
        async with client.post(CHAT, json={"model": f"{name}/x"}) as resp:
            assert resp.status == status, (name, await resp.text())


async def test_upstream_sockets_carry_keepalive_options(upstream: FakeUpstream) -> None:
    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"first")
        await asyncio.sleep(0.3)  # keeps the connection checked out while the test looks at it
        return resp

    upstream.handler = slow_body
    session = create_session(Keepalive(idle_s=3, interval_s=4, count=6), Tls())
    try:
        async with session.get(upstream.base_url + "/models") as resp:
            assert resp.connection is not None and resp.connection.transport is not None
            sock = resp.connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 4
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 6
            await resp.read()
    finally:
        await session.close()


async def test_upstream_cookies_are_not_replayed(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    async def sets_cookie(request: web.Request) -> web.Response:
        resp = web.json_response({})
        resp.set_cookie("session", "from-upstream")
        return resp

    upstream.handler = sets_cookie
    await (await proxy.post(CHAT, json={"model": "fast"})).read()
    await (await proxy.post(CHAT, json={"model": "fast"})).read()
    assert "Cookie" not in upstream.last.headers
