"""Requests through a real proxyd app to real fake upstreams on loopback."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import FakeUpstream, ProxyClient

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
CHAT = "/v1/chat/completions"


def assert_openai_error(body: Any, code: str | None = None) -> dict[str, Any]:
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}
    if code is not None:
        assert body["error"]["code"] == code
    err: dict[str, Any] = body["error"]
    return err


async def raw_request(client: ProxyClient, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes the way no well-behaved client library would; read one response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(head + body)
        await writer.drain()
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = int(head_bytes.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head_bytes.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await asyncio.wait_for(reader.readexactly(length), 10)
    finally:
        writer.close()


async def test_chat_routes_rewrites_model_and_injects_auth(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    resp = await proxy.post(
        CHAT + "?trace=1",
        json={"model": "local/llama3.2", "messages": [{"role": "user", "content": "hi"}]},
        headers={
            "Authorization": "Bearer client-junk",
            "x-api-key": "also-junk",
            "x-stainless-lang": "python",
            "session-id": "s-1",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "1",
        },
    )
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "path": "/v1/chat/completions?trace=1", "model": "llama3.2"}
    seen = upstream.last
    assert seen.headers["Authorization"] == "Bearer sk-local"
    assert seen.headers["X-Tenant"] == "team-a"
    assert (seen.headers["x-stainless-lang"], seen.headers["session-id"]) == ("python", "s-1")
    assert "x-api-key" not in {k.lower() for k in seen.headers} and "X-Hop" not in seen.headers
    assert seen.json()["messages"] == [{"role": "user", "content": "hi"}]


async def test_body_passes_byte_for_byte_when_the_model_is_unchanged(
    proxy: ProxyClient, upstream: FakeUpstream
) -> None:
    body = b'{"model" : "llama3.2",   "messages": [], "x": 1.50}'
    resp = await proxy.post(CHAT, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 200
    assert upstream.last.body == body


@pytest.mark.parametrize(
    ("model", "upstream_model"),
    [("fast", "llama3.2"), (None, "m-default"), ("anything-else", "anything-else")],
)
async def test_alias_and_default(
    proxy: ProxyClient, upstream: FakeUpstream, model: str | None, upstream_model: str
) -> None:
    body = {"messages": []} | ({"model": model} if model else {})
    resp = await proxy.post(CHAT, json=body)
    assert (await resp.json())["model"] == upstream_model


async def test_upstream_rejects_requests_without_the_provider_key(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    async def strict(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer sk-local":
            return web.json_response({"error": {"message": "bad key", "type": "auth", "code": None}}, status=401)
        return web.json_response({"ok": True})

    upstream.handler = strict
    for client_key in ("Bearer sk-wrong", None):
        headers = {"Authorization": client_key} if client_key else {}
        resp = await proxy.post(CHAT, json={"model": "fast"}, headers=headers)
        assert resp.status == 200, await resp.text()


async def test_pinned_provider_path_passes_model_as_sent(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory(
        {
            "default_provider": "a",
            "providers": [
                {"name": "a", "base_url": "http://127.0.0.1:9/v1"},
                {"name": "b", "base_url": upstream.base_url},
            ],
        }
    )
    resp = await client.post("/providers/b/v1/embeddings", json={"model": "a/not-a-prefix-here", "input": "x"})
    assert await resp.json() == {"ok": True, "path": "/v1/embeddings", "model": "a/not-a-prefix-here"}
    resp = await client.get("/providers/b/v1/models")
    assert (await resp.json())["path"] == "/v1/models"  # pinned: the provider's own list
    resp = await client.post("/providers/ghost/v1/embeddings", json={"model": "x"})
    assert resp.status == 404 and "a, b" in assert_openai_error(await resp.json())["message"]


async def test_other_paths_pass_through_raw(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    target = b"/v1/files/file%2Fabc/content?limit=2&after=x%2Fy&q=a+b"
    status, _ = await raw_request(
        proxy, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert status == 200 and upstream.last.path == target.decode()
    resp = await proxy.post("/v1/audio/speech", data=b"\x00\x01binary", headers={"Content-Type": "audio/wav"})
    assert resp.status == 200 and upstream.last.body == b"\x00\x01binary"
    assert upstream.last.method == "POST" and upstream.last.headers["Authorization"] == "Bearer sk-local"


async def test_unknown_model_without_default_is_404(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory({"providers": [{"name": "only", "base_url": upstream.base_url}]})
    resp = await client.post(CHAT, json={"model": "mystery"})
    assert resp.status == 404
    err = assert_openai_error(await resp.json(), "model_not_found")
    assert "only" in err["message"] and not upstream.seen


async def test_models_are_merged(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory(
        {
            "providers": [
                {"name": "ollama", "base_url": upstream.base_url, "models": [{"id": "llama3.2", "alias": "fast"}]},
                {"name": "or", "base_url": upstream.base_url, "models": ["anthropic/claude-opus-4-7"]},
            ]
        }
    )
    listing = await (await client.get("/v1/models")).json()
    assert listing["object"] == "list"
    assert [(m["id"], m["owned_by"], m["object"]) for m in listing["data"]] == [
        ("ollama/llama3.2", "ollama", "model"),
        ("fast", "ollama", "model"),
        ("or/anthropic/claude-opus-4-7", "or", "model"),
    ]
    one = await client.get("/v1/models/or/anthropic/claude-opus-4-7")
    assert (await one.json())["upstream_id"] == "anthropic/claude-opus-4-7"
    missing = await client.get("/v1/models/nope")
    assert missing.status == 404 and not upstream.seen
    assert_openai_error(await missing.json(), "model_not_found")


async def test_responses_pass_through_for_responses_providers(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    resp = await proxy.post("/v1/responses", json={"model": "fast", "input": "hi"})
    assert (await resp.json())["path"] == "/v1/responses" and upstream.last.json()["model"] == "llama3.2"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"model": "fast", ', "not valid JSON"),
        (b'{"model": "fast", "temperature": NaN}', "NaN"),
        (b'{"model": "fast", "max_tokens": 1e999}', "too large"),
        (b'{"model": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests deeper"),
        (b"[]", "JSON object"),
        (b'{"model": 42}', "'model' must be a string"),
    ],
)
async def test_bad_json_is_400_and_not_forwarded(
    proxy: ProxyClient, upstream: FakeUpstream, body: bytes, fragment: str
) -> None:
    resp = await proxy.post(CHAT, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert fragment in assert_openai_error(await resp.json())["message"]
    assert not upstream.seen


async def test_declared_oversize_body_is_413_before_reading(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await proxy_factory(
        {"listen": {"max_body_mb": 1}, "providers": [{"name": "p", "base_url": upstream.base_url}]}
    )
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\nConnection: close\r\n\r\n"
    )
    status, body = await raw_request(client, head, b'{"model": ')  # 100 MiB declared, 10 bytes sent
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    assert not upstream.seen


async def test_chunked_oversize_and_gzip_bomb_are_413(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory(
        {"listen": {"max_body_mb": 1}, "providers": [{"name": "p", "base_url": upstream.base_url}]}
    )

    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    resp = await client.post(CHAT, data=chunks(), headers={"Content-Type": "application/json"})
    assert resp.status == 413
    bomb = gzip.compress(b'{"model": "p/x", "pad": "' + b" " * (50 << 20) + b'"}')
    assert len(bomb) < 1 << 20
    resp = await client.post(CHAT, data=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status == 413 and not upstream.seen


async def test_compressed_bodies_are_decoded_and_forwarded_plain(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    from backports import zstd

    payload = json.dumps({"model": "fast", "messages": [{"role": "user", "content": "é" * 1000}]}).encode()
    for encoding, data in (("gzip", gzip.compress(payload)), ("zstd", zstd.compress(payload))):
        resp = await proxy.post(
            CHAT, data=data, headers={"Content-Type": "application/json", "Content-Encoding": encoding}
        )
        assert resp.status == 200, await resp.text()
        seen = upstream.last
        assert "content-encoding" not in {k.lower() for k in seen.headers}
        assert seen.json()["model"] == "llama3.2" and seen.json()["messages"][0]["content"] == "é" * 1000
        assert int(seen.headers["Content-Length"]) == len(seen.body)


async def test_unsupported_and_corrupt_encodings(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    resp = await proxy.post(
        CHAT, data=b"xx", headers={"Content-Type": "application/json", "Content-Encoding": "compress"}
    )
    assert resp.status == 415 and "compress" in assert_openai_error(await resp.json())["message"]
    resp = await proxy.post(
        CHAT, data=b"not gzip at all", headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert resp.status == 400
    assert not upstream.seen


@pytest.mark.parametrize(
    "target", [b"/v1/../admin", b"/v1/%2e%2e/admin", b"/providers/local/v1/%2E%2E/x", b"http://evil.test/v1/models"]
)
async def test_hostile_targets_are_refused_before_forwarding(
    proxy: ProxyClient, upstream: FakeUpstream, target: bytes
) -> None:
    status, body = await raw_request(
        proxy, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert status == 400 and json.loads(body)["error"]["code"] in ("invalid_path", "invalid_target")
    assert not upstream.seen


async def test_body_fields_never_pick_a_host(
    proxy: ProxyClient, upstream: FakeUpstream, upstream_factory: Callable[[], Awaitable[FakeUpstream]]
) -> None:
    other = await upstream_factory()
    body = {
        "model": "fast",
        "api_base": other.base_url,
        "base_url": other.base_url,
        "extra_body": {"api_base": other.base_url},
    }
    resp = await proxy.post(CHAT, json=body, headers={"Host": f"127.0.0.1:{other.server.port}"})  # type: ignore[union-attr]
    assert resp.status == 200 and len(upstream.seen) == 1 and not other.seen


async def test_redirects_are_not_followed(
    proxy: ProxyClient, upstream: FakeUpstream, upstream_factory: Callable[[], Awaitable[FakeUpstream]]
) -> None:
    other = await upstream_factory()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(other.base_url + "/chat/completions")

    upstream.handler = redirect
    resp = await proxy.post(CHAT, json={"model": "fast"})
    assert resp.status == 502 and not other.seen
    assert "does not follow redirects" in assert_openai_error(await resp.json(), "upstream_redirect")["message"]


async def test_upstream_errors_are_openai_shaped_and_keys_redacted(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    answers = iter(
        [
            web.Response(status=500, text="<html>Internal Server Error</html>", content_type="text/html"),
            web.json_response({"detail": "Incorrect API key provided: sk-local"}, status=401),
            web.json_response({"error": {"message": "slow down", "type": "rate_limit", "code": "rate"}}, status=429),
        ]
    )

    async def failing(request: web.Request) -> web.Response:
        return next(answers)

    upstream.handler = failing
    first = await proxy.post(CHAT, json={"model": "fast"})
    assert first.status == 500 and "HTML page" in assert_openai_error(await first.json())["message"]
    second = await proxy.post(CHAT, json={"model": "fast"})
    text = await second.text()
    assert second.status == 401 and "sk-local" not in text and "[redacted]" in text
    third = await proxy.post(CHAT, json={"model": "fast"})
    assert third.status == 429 and (await third.json())["error"]["code"] == "rate"


async def test_bare_404_hints_at_v1(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text="404 page not found")

    upstream.handler = not_found
    base = upstream.base_url.removesuffix("/v1")
    client = await proxy_factory({"providers": [{"name": "p", "base_url": base}]})
    resp = await client.post(CHAT, json={"model": "p/x"})
    assert resp.status == 404
    assert "base_url probably lacks /v1" in assert_openai_error(await resp.json(), "upstream_path_not_found")["message"]


async def test_streaming_disabled_provider_is_replayed_as_a_stream(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    async def plain(request: web.Request) -> web.Response:
        message = {"role": "assistant", "content": "whole answer"}
        usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return web.json_response({"id": "c1", "object": "chat.completion", "choices": [choice], "usage": usage})

    upstream.handler = plain
    client = await proxy_factory(
        {
            "providers": [
                {"name": "p", "base_url": upstream.base_url, "streaming": False},
                {"name": "r", "base_url": upstream.base_url, "streaming": False, "wire": "responses"},
                {"name": "pm", "base_url": upstream.base_url, "models": [
                    {"id": "x", "capabilities": {"streaming": False}}, "y"]},
            ]
        }
    )  # fmt: skip
    for model in ("p/x", "pm/x"):  # a provider, or one model, that does not stream
        body = {"model": model, "stream": True, "stream_options": {"include_usage": True}}
        resp = await client.post(CHAT, json=body)
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        text = (await resp.read()).decode()
        assert upstream.last.json() == {"model": "x"}  # asked without stream
        assert '"content":"whole answer"' in text and '"total_tokens":3' in text
        assert text.endswith("data: [DONE]\n\n")
    await client.post(CHAT, json={"model": "pm/y", "stream": True})
    assert upstream.last.json() == {"model": "y", "stream": True}  # its other models stream as usual
    # Legacy completions have no replay: a clear 400 rather than a stream that never comes.
    resp = await client.post("/v1/completions", json={"model": "r/x", "prompt": "a", "stream": True})
    assert resp.status == 400 and "streaming: false" in assert_openai_error(await resp.json())["message"]


async def test_local_paths(proxy: ProxyClient) -> None:
    assert await (await proxy.get("/healthz")).json() == {"status": "ok"}
    resp = await proxy.get("/admin")
    assert resp.status == 404
    assert_openai_error(await resp.json(), "unknown_path")


@pytest.mark.parametrize(
    ("method", "path", "status", "anthropic", "said"),
    [
        ("POST", "/v1/v1/messages", 404, True, "set ANTHROPIC_BASE_URL=http://127.0.0.1:{port} "),
        ("POST", "/v1/v1/messages/count_tokens", 404, True, "ends in /v1 twice"),
        ("POST", "/v1/v1/chat/completions", 404, False, "set the client's base URL to http://127.0.0.1:{port}/v1 "),
        ("GET", "/v1/chat/completions", 405, False, "chat completions takes POST, and this request was GET"),
        ("GET", "/v1/messages", 405, True, "the Messages API takes POST"),
        ("PUT", "/v1/embeddings", 405, False, "embeddings takes POST"),
    ],
)
async def test_a_clients_own_mistake_is_named_not_blamed_on_the_provider(
    proxy: ProxyClient, upstream: FakeUpstream, method: str, path: str, status: int, anthropic: bool, said: str
) -> None:
    async with proxy.request(method, path, json={"model": "fast", "max_tokens": 5, "messages": []}) as resp:
        body = await resp.json()
    assert resp.status == status and not upstream.seen
    message = body["error"]["message"]
    assert said.format(port=proxy.port) in message and "provider" not in message
    assert (body.get("type") == "error") is anthropic  # the shape of the API the client meant


async def test_proxyds_own_failures_come_in_the_clients_shape(
    proxy: ProxyClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import proxyd.app

    async def broken(*args: Any) -> web.StreamResponse:
        raise RuntimeError("a bug")

    async def refused(*args: Any) -> web.StreamResponse:
        raise web.HTTPRequestEntityTooLarge(max_size=1, actual_size=2)

    for fault, status in ((broken, 500), (refused, 413)):
        monkeypatch.setattr(proxyd.app, "_proxy", fault)
        async with proxy.post("/v1/messages", json={"model": "fast", "max_tokens": 5, "messages": []}) as resp:
            body = await resp.json()
        assert (
            resp.status == status
            and body["type"] == "error"
            and body["error"]["type"] in ("api_error", "request_too_large")
        )
        async with proxy.post("/v1/chat/completions", json={"model": "fast", "messages": []}) as resp:
            assert "type" not in await resp.json() and resp.status == status


async def test_a_model_no_catalog_lists_gets_proxyds_view_beside_the_providers(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    from tests.page.fakes import ollama_like

    upstream.handler = ollama_like()
    proxy = await proxy_factory({"default_provider": "ollama", "providers": [
        {"name": "ollama", "base_url": upstream.base_url, "wire": "chat", "models": [{"id": "llama3.2", "alias": "fast"}]}]})  # fmt: skip
    for model, near in (("gpt-4o", "fast"), ("ollama/llama3.3", "ollama/llama3.2")):
        async with proxy.post(
            "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}
        ) as resp:
            message = (await resp.json())["error"]["message"]
        assert resp.status == 404 and "try pulling it first" in message  # Ollama's words stay
        assert f"no provider's catalog lists {model.split('/')[-1]!r}" in message and near in message
        assert "proxyd models" in message
    async with proxy.post(
        "/v1/chat/completions", json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    ) as resp:
        assert resp.status == 200
