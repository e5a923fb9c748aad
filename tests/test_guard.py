"""Local-access protection end to end: a real proxyd on loopback in front of a fake upstream."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import FakeUpstream, ProxyClient, make_config

TOKEN = "proxyd-token-5f3c9a7e"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
Factory = Callable[..., Awaitable[ProxyClient]]


def raw_config(upstream: FakeUpstream, **listen: Any) -> dict[str, Any]:
    return {
        "default_provider": "local",
        "listen": listen,
        "providers": [{"name": "local", "base_url": upstream.base_url, "api_key": "sk-upstream-key-123"}],
    }


async def error_of(resp: Any) -> tuple[int, str]:
    body = await resp.json()
    return resp.status, body["error"]["code"]


@pytest.mark.parametrize(
    ("headers", "kwargs", "code"),
    [
        ({"Host": "rebind.attacker.example:8787"}, {"json": CHAT}, "host_not_allowed"),
        ({"Origin": "https://evil.example"}, {"json": CHAT}, "origin_not_allowed"),
        # Simple requests: a browser sends these cross-origin without asking first.
        ({"Origin": "https://evil.example", "Content-Type": "text/plain"}, {"data": b'{"model": "m"}'}, None),
        ({"Origin": "https://evil.example"}, {"data": {"model": "m"}}, "origin_not_allowed"),  # form encoding
        ({"Origin": "null", "Content-Type": "text/plain"}, {"data": b"{}"}, "origin_not_allowed"),
        ({"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, {"data": b"{}"}, "cross_site_request"),
    ],
)
async def test_browser_and_rebinding_requests_are_refused_before_the_upstream(
    proxy_factory: Factory, upstream: FakeUpstream, headers: dict[str, str], kwargs: dict[str, Any], code: str | None
) -> None:
    proxy = await proxy_factory(raw_config(upstream))
    async with proxy.post("/v1/chat/completions", headers=headers, **kwargs) as resp:
        status, got = await error_of(resp)
        assert "Access-Control-Allow-Origin" not in resp.headers
    assert status == 403
    assert got == (code or "origin_not_allowed")
    assert upstream.seen == []


async def test_a_cli_request_passes_and_its_key_is_dropped(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    proxy = await proxy_factory(raw_config(upstream))
    async with proxy.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-anything"}) as resp:
        assert resp.status == 200
    assert upstream.last.headers["Authorization"] == "Bearer sk-upstream-key-123"


async def test_local_pages_follow_the_host_and_origin_rules(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    proxy = await proxy_factory(raw_config(upstream))
    for path in ("/healthz", "/readyz", "/status", "/metrics"):
        async with proxy.get(path, headers={"Host": "rebind.attacker.example"}) as resp:
            assert resp.status == 403, path
        async with proxy.get(path, headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403, path
        async with proxy.get(path) as resp:
            assert resp.status == 200, path
    async with proxy.get("/metrics") as resp:
        text = await resp.text()
    assert 'proxyd_refused_requests_total{reason="host"} 4.0' in text
    assert 'proxyd_refused_requests_total{reason="origin"} 4.0' in text


async def test_preflight(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    proxy = await proxy_factory(raw_config(upstream, allowed_origins=["http://localhost:3000"]))
    asks = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    async with proxy.request(
        "OPTIONS", "/v1/chat/completions", headers={"Origin": "https://evil.example", **asks}
    ) as r:
        assert r.status == 403
        assert "Access-Control-Allow-Origin" not in r.headers
    ours = {"Origin": "http://localhost:3000", **asks, "Access-Control-Request-Private-Network": "true"}
    async with proxy.request("OPTIONS", "/v1/chat/completions", headers=ours) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert resp.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        assert resp.headers["Access-Control-Allow-Private-Network"] == "true"
    assert upstream.seen == []


async def test_an_allowed_origin_can_read_answers_and_streams(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    from aiohttp import web

    async def stream(request: web.Request) -> web.StreamResponse:
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)
        await out.write(b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n')
        return out

    proxy = await proxy_factory(raw_config(upstream, allowed_origins=["http://localhost:3000"]))
    headers = {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}
    async with proxy.get("/v1/models", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert "Origin" in resp.headers.getall("Vary")
    upstream.handler = stream
    async with proxy.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert b"[DONE]" in await resp.read()


async def test_token(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    proxy = await proxy_factory(raw_config(upstream, token=TOKEN))
    async with proxy.post("/v1/chat/completions", json=CHAT) as resp:
        assert await error_of(resp) == (401, "invalid_api_key")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    async with proxy.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
    for path in ("/status", "/metrics"):
        async with proxy.get(path) as resp:
            assert resp.status == 401, path
    for path in ("/healthz", "/readyz"):
        async with proxy.get(path) as resp:
            assert resp.status == 200, path
    assert upstream.seen == []
    async with proxy.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200
    async with proxy.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": TOKEN}) as resp:
        assert resp.status == 200
    for seen in upstream.seen:
        assert TOKEN not in repr(seen.headers)  # never forwarded
        assert seen.headers["Authorization"] == "Bearer sk-upstream-key-123"


async def test_token_without_a_provider_key_is_not_forwarded(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    raw = raw_config(upstream, token=TOKEN)
    del raw["providers"][0]["api_key"]
    proxy = await proxy_factory(raw)
    async with proxy.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200
    assert "Authorization" not in upstream.last.headers


async def test_access_rules_change_on_reload(proxy_factory: Factory, upstream: FakeUpstream) -> None:
    from proxyd.runtime import RUNTIME

    proxy = await proxy_factory(raw_config(upstream))
    runtime = proxy.app[RUNTIME]
    old = runtime.current.config
    listen = dataclasses.replace(old.listen, access=make_config(raw_config(upstream, token=TOKEN)).listen.access)
    runtime.swap(dataclasses.replace(old, listen=listen))
    async with proxy.post("/v1/chat/completions", json=CHAT) as resp:
        assert resp.status == 401
    async with proxy.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200
