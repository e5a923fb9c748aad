"""Provider health through real probes and real traffic; /status, /healthz, /readyz; discovery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.conftest import FakeUpstream, ProxyClient
from tests.helpers import eventually

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
SECRET = "sk-health-secret-0123456789"


async def status(client: ProxyClient) -> dict[str, Any]:
    resp = await client.get("/status")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def wait_state(client: ProxyClient, name: str, state: str) -> dict[str, Any]:
    """Poll /status until provider ``name`` is in ``state``."""

    async def entry() -> dict[str, Any] | None:
        found = next(p for p in (await status(client))["providers"] if p["name"] == name)
        return found if found["state"] == state else None

    return await eventually(entry, f"provider {name} to be {state}")


def listing(*ids: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return web.json_response({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})
        return web.json_response({"ok": True, "model": (await request.json()).get("model")})

    return handler


async def test_fast_then_slow_then_down(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    delay = {"s": 0.0}

    async def models(request: web.Request) -> web.Response:
        await asyncio.sleep(delay["s"])
        return web.json_response({"data": [{"id": "m1"}]})

    upstream.handler = models
    client = await proxy_factory(
        {
            "health": {"interval_s": 0.1, "degraded_after_s": 0.25, "timeout_s": 2},
            "providers": [{"name": "p", "base_url": upstream.base_url, "api_key": SECRET}],
        }
    )
    ok = await wait_state(client, "p", "ok")
    assert ok["probe"]["latency_s"] < 0.25 and ok["error"] is None
    assert upstream.last.path == "/v1/models" and upstream.last.headers["Authorization"] == f"Bearer {SECRET}"
    delay["s"] = 0.4
    slow = await wait_state(client, "p", "degraded")
    assert "slow" in slow["error"]
    delay["s"] = 0.0
    assert upstream.server is not None
    await upstream.server.close()
    down = await wait_state(client, "p", "unreachable")
    assert "Connection refused" in down["error"]
    metrics = await (await client.get("/metrics")).text()
    assert 'proxyd_provider_state{provider="p",state="unreachable"} 1.0' in metrics
    assert 'proxyd_provider_state{provider="p",state="ok"} 0.0' in metrics
    assert 'proxyd_provider_up{provider="p"} 0.0' in metrics
    assert "proxyd_provider_probe_seconds" in metrics
    assert SECRET not in str(await status(client))


async def test_real_traffic_notices_a_dead_provider_before_the_next_probe(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    upstream.handler = listing("m1")
    client = await proxy_factory(
        {"health": {"interval_s": 3600}, "providers": [{"name": "p", "base_url": upstream.base_url}]}
    )
    await wait_state(client, "p", "ok")
    assert upstream.server is not None
    await upstream.server.close()
    resp = await client.post("/v1/chat/completions", json={"model": "p/m1"})
    assert resp.status == 502
    entry = await wait_state(client, "p", "unreachable")
    assert "Is the server running?" in entry["error"]


async def test_traffic_failures_degrade_and_a_success_restores(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    answer = {"status": 503}

    async def flaky(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "busy"}}, status=answer["status"])

    upstream.handler = flaky
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url}]})
    assert (await client.post("/v1/chat/completions", json={"model": "p/m"})).status == 503
    entry = await wait_state(client, "p", "degraded")
    assert entry["error"] == "HTTP 503 from the provider"
    answer["status"] = 200
    assert (await client.post("/v1/chat/completions", json={"model": "p/m"})).status == 200
    await wait_state(client, "p", "ok")


async def test_healthz_readyz_and_status_never_call_upstreams(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    assert (await proxy.get("/healthz")).status == 200
    ready = await proxy.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    doc = await status(proxy)
    assert doc["ready"] is True and doc["config"]["generation"] == 1
    (entry,) = doc["providers"]
    assert entry["state"] == "unknown" and entry["key"] == "literal" and entry["models"]["configured"] == ["llama3.2"]
    assert "sk-local" not in str(doc)
    assert upstream.seen == []


async def test_detected_wire_after_auto_fallback(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    async def chat_only(request: web.Request) -> web.Response:
        if request.path.endswith("/responses"):
            return web.Response(status=404, text="404 page not found")
        message = {"role": "assistant", "content": "hi"}
        return web.json_response({"id": "c", "object": "chat.completion", "model": "m", "created": 0,
                                  "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})  # fmt: skip

    upstream.handler = chat_only
    assert (await proxy.post("/v1/responses", json={"model": "fast", "input": "hi"})).status == 200
    (entry,) = (await status(proxy))["providers"]
    assert entry["wire"] == "auto" and entry["detected_wire"] == "chat"


async def test_probe_catalog_feeds_models_and_routing(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    calls = {"n": 0}

    async def growing(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            calls["n"] += 1
            ids = [] if calls["n"] == 1 else ["qwen3:8b", "gemma3"]  # the first answer is empty
            return web.json_response({"data": [{"id": i} for i in ids]})
        return web.json_response({"routed_to": "bare", "model": (await request.json()).get("model")})

    upstream.handler = growing
    client = await proxy_factory(
        {
            "health": {"interval_s": 0.1},
            "default_provider": "main",
            "providers": [
                {"name": "main", "base_url": "http://127.0.0.1:1/v1", "models": ["configured-one"]},
                {"name": "bare", "base_url": upstream.base_url},
            ],
        }
    )

    async def discovered() -> list[dict[str, Any]] | None:
        data: list[dict[str, Any]] = (await (await client.get("/v1/models")).json())["data"]
        return data if any(m["id"] == "bare/gemma3" for m in data) else None

    data = await eventually(discovered, "bare/gemma3 in /v1/models")
    by_id = {m["id"]: m for m in data}
    assert by_id["bare/qwen3:8b"]["source"] == "discovered" and by_id["main/configured-one"]["source"] == "config"
    resp = await client.post("/v1/chat/completions", json={"model": "gemma3"})  # not the default provider
    assert (await resp.json()) == {"routed_to": "bare", "model": "gemma3"}
    (entry,) = [p for p in (await status(client))["providers"] if p["name"] == "bare"]
    assert entry["models"]["discovered"] == ["qwen3:8b", "gemma3"]


async def test_a_base_url_without_v1_is_misconfigured_with_the_fix(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    async def vllm_like(request: web.Request) -> web.StreamResponse:  # the API lives under /v1 only
        if request.path == "/v1/models":
            return web.json_response({"object": "list", "data": [{"id": "qwen", "object": "model"}]})
        return web.json_response({"detail": "Not Found"}, status=404)

    upstream.handler = vllm_like
    origin = upstream.base_url.removesuffix("/v1")
    proxy = await proxy_factory({"health": {"interval_s": 0.1}, "providers": [{"name": "vllm", "base_url": origin}]})

    async def state() -> Any:
        async with proxy.get("/status") as resp:
            found = (await resp.json())["providers"][0]
        return found if found["state"] != "unknown" else None

    found = await eventually(state, "the first probe")
    assert found["state"] == "misconfigured"  # it answered 404: not green
    assert f"set base_url: {origin}/v1" in found["error"] and "that form works" in found["error"]
    async with proxy.get("/metrics") as resp:
        assert 'proxyd_provider_up{provider="vllm"} 0.0' in await resp.text()


async def test_ollamas_windows_come_from_api_show_once(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    shown: list[str] = []

    async def ollama(request: web.Request) -> web.StreamResponse:
        if request.path == "/v1/models":
            return web.json_response({"object": "list", "data": [  # on another port than 11434: known by its owned_by
                {"id": "llama3.2", "object": "model", "owned_by": "library"},
                {"id": "mystery", "object": "model", "owned_by": "library"}]})  # fmt: skip
        if request.path == "/api/show" and request.method == "POST":
            model = (await request.json())["model"]
            shown.append(model)
            if model == "mystery":
                return web.json_response({"error": f"model '{model}' not found"}, status=404)
            return web.json_response({"model_info": {"general.architecture": "llama", "llama.context_length": 131072,
                                                     "llama.embedding_length": 3072}})  # fmt: skip
        return web.Response(status=404, text="404 page not found")

    upstream.handler = ollama
    proxy = await proxy_factory({"health": {"interval_s": 0.1},
                                 "providers": [{"name": "ollama", "base_url": upstream.base_url}]})  # fmt: skip

    async def listed() -> Any:
        async with proxy.get("/v1/models") as resp:
            models = {m["id"]: m for m in (await resp.json())["data"]}
        return models if "ollama/llama3.2" in models and shown.count("llama3.2") else None

    models = await eventually(listed, "a probe and its /api/show")
    await asyncio.sleep(0.35)  # more probes: what was found is not asked again
    assert shown.count("llama3.2") == 1 and shown.count("mystery") >= 1
    assert models["ollama/llama3.2"]["context_window"] == 131072
