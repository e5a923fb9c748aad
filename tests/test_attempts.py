"""Model groups over real sockets: each way a provider fails before answering moves the request
on (and only before the first byte), retries, rests and recovery, the choice of target, a
group that mixes wires, and a reload under a request in flight."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
import yaml
from aiohttp import web

from proxyd.config.loader import load_config
from proxyd.reload import RELOADS
from proxyd.runtime import RUNTIME
from proxyd.server import ReloadFrom, start
from tests.conftest import FakeUpstream, Handler, ProxyClient
from tests.fakes.echo import SERVERS
from tests.helpers import eventually
from tests.page.fakes import ollama_like

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
UpstreamFactory = Callable[[], Awaitable[FakeUpstream]]
CHAT = {"model": "main", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def resetting_port() -> AsyncIterator[int]:
    """A server that reads the request and resets the connection (RST, not FIN)."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def failing(status: int, headers: dict[str, str] | None = None, times: int = 10**6) -> Handler:
    """Answer ``status`` (an OpenAI-shaped error) ``times`` times, then work as Ollama does."""
    healthy = ollama_like(("qwen3",))
    left = {"n": times}

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "POST" and left["n"] > 0:
            left["n"] -= 1
            body = {"error": {"message": f"failing with {status}", "type": "server_error"}}
            return web.json_response(body, status=status, headers=headers)
        return await healthy(request)

    return handle


def provider(name: str, base_url: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "base_url": base_url, "wire": "chat", "timeouts": {"first_byte_s": 0.5}, **more}


def group(*targets: str, **more: Any) -> dict[str, Any]:
    return {"alias": "main", "targets": list(targets), **more}


_CONVERSATIONS = itertools.count()


async def answer(proxy: ProxyClient, body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], str]:
    """One request; by default each of a new conversation, so that affinity (which keeps a
    conversation's turns on one target) leaves the group's own spread to show."""
    if body is None:
        body = {**CHAT, "messages": [{"role": "user", "content": f"hi {next(_CONVERSATIONS)}"}]}
    async with proxy.post("/v1/chat/completions", json=body) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def counter(proxy: ProxyClient, name: str, **labels: str) -> float:
    async with proxy.get("/metrics") as resp:
        text = await resp.text()
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
async def good(upstream_factory: UpstreamFactory) -> FakeUpstream:
    fake = await upstream_factory()
    fake.handler = ollama_like(("qwen3",))
    return fake


async def stalls(request: web.Request) -> web.Response:
    await asyncio.sleep(5)  # far past first_byte_s
    return web.json_response({})


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("refused", "connect"), ("reset", "connect"), ("stall", "timeout"), ("429", "status_429"),
     ("500", "status_500"), ("502", "status_502"), ("503", "status_503"), ("504", "status_504"),
     ("529", "status_529")],
)  # fmt: skip
async def test_each_failure_before_an_answer_moves_the_request_on(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream,
    closed_port: int, resetting_port: int, kind: str, reason: str,
) -> None:  # fmt: skip
    bad = await upstream_factory()
    bad.handler = stalls if kind == "stall" else failing(int(kind)) if kind.isdigit() else None
    url = {"refused": f"http://127.0.0.1:{closed_port}/v1", "reset": f"http://127.0.0.1:{resetting_port}/v1"}
    proxy = await proxy_factory({
        "providers": [provider("bad", url.get(kind, bad.base_url)), provider("good", good.base_url)],
        "groups": [group("bad/qwen3", "good/qwen3", retries=0)],
    })  # fmt: skip
    status, headers, text = await answer(proxy)
    assert status == 200, text
    assert (headers["x-proxyd-provider"], headers["x-proxyd-model"]) == ("good", "qwen3")
    assert good.last.json()["model"] == "qwen3"
    assert await counter(proxy, "proxyd_failovers_total", group="main", reason=reason) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_the_clients_and_the_configs_errors_are_returned_as_they_are(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream, status: int
) -> None:
    bad = await upstream_factory()
    bad.handler = failing(status)
    proxy = await proxy_factory({"providers": [provider("bad", bad.base_url), provider("good", good.base_url)],
                                 "groups": [group("bad/qwen3", "good/qwen3")]})  # fmt: skip
    got, headers, text = await answer(proxy)
    assert (got, headers["x-proxyd-provider"]) == (status, "bad") and f"failing with {status}" in text
    assert not good.seen


async def test_a_stream_that_breaks_midway_ends_in_an_error_and_is_not_sent_again(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream
) -> None:
    async def breaks(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        assert request.transport is not None
        request.transport.abort()
        return resp

    bad = await upstream_factory()
    bad.handler = breaks
    proxy = await proxy_factory({"providers": [provider("bad", bad.base_url), provider("good", good.base_url)],
                                 "groups": [group("bad/qwen3", "good/qwen3")]})  # fmt: skip
    status, _, text = await answer(proxy, {**CHAT, "stream": True})
    assert status == 200 and "Hel" in text and '"error"' in text and "[DONE]" not in text
    assert not good.seen


async def test_a_short_retry_after_is_waited_for_on_the_same_target(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream
) -> None:
    flaky = await upstream_factory()
    flaky.handler = failing(429, {"Retry-After": "0"}, times=1)
    proxy = await proxy_factory({"providers": [provider("flaky", flaky.base_url), provider("good", good.base_url)],
                                 "groups": [group("flaky/qwen3", "good/qwen3")]})  # fmt: skip
    status, headers, _ = await answer(proxy)
    assert (status, headers["x-proxyd-provider"], len(flaky.seen)) == (200, "flaky", 2) and not good.seen
    assert await counter(proxy, "proxyd_retries_total", provider="flaky", reason="status_429") == 1


async def test_a_long_retry_after_rests_the_target_and_status_shows_it(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream
) -> None:
    limited = await upstream_factory()
    limited.handler = failing(429, {"Retry-After": "120"})
    proxy = await proxy_factory({"providers": [provider("limited", limited.base_url), provider("good", good.base_url)],
                                 "groups": [group("limited/qwen3", "good/qwen3")]})  # fmt: skip
    assert (await answer(proxy))[1]["x-proxyd-provider"] == "good"
    assert (await answer(proxy))[1]["x-proxyd-provider"] == "good"
    assert len(limited.seen) == 1  # the second request did not knock on a resting door
    async with proxy.get("/status") as resp:
        resting = (await resp.json())["groups"][0]["targets"][0]
    assert resting["target"] == "limited/qwen3" and 100 < resting["resting_s"] <= 120
    assert resting["last_failure"] == "status_429"


async def test_cooldown_then_recovery(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream
) -> None:
    sick = await upstream_factory()
    sick.handler = failing(503, times=2)  # two failures, then healthy again
    proxy = await proxy_factory({
        "providers": [provider("sick", sick.base_url), provider("good", good.base_url)],
        "groups": [group("sick/qwen3", "good/qwen3", cooldown={"failures": 2, "window_s": 60, "base_s": 0.3})],
    })  # fmt: skip
    for _ in range(2):
        assert (await answer(proxy))[1]["x-proxyd-provider"] == "good"
    assert (await answer(proxy))[1]["x-proxyd-provider"] == "good" and len(sick.seen) == 2  # resting: not tried

    async def back() -> bool:
        return (await answer(proxy))[1]["x-proxyd-provider"] == "sick"

    await eventually(back, "the rested target to be tried again and answer", every=0.1)
    async with proxy.get("/status") as resp:
        assert (await resp.json())["groups"][0]["targets"][0]["recent_failures"] == 0


async def test_every_target_failing_answers_in_the_clients_shape_naming_each(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, closed_port: int
) -> None:
    busy = await upstream_factory()
    busy.handler = failing(503)
    proxy = await proxy_factory({
        "providers": [provider("local", f"http://127.0.0.1:{closed_port}/v1"), provider("busy", busy.base_url)],
        "groups": [group("local/qwen3", "busy/qwen3", retries=0)],
    })  # fmt: skip
    status, _, text = await answer(proxy)
    error = json.loads(text)["error"]
    assert status == 503 and error["code"] == "group_exhausted"
    assert "local/qwen3: cannot connect" in error["message"] and "busy/qwen3: HTTP 503" in error["message"]
    client = anthropic.AsyncAnthropic(base_url=proxy.origin, api_key="any", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await client.messages.create(model="main", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503 and "every target of model group 'main'" in str(caught.value)


async def test_a_provider_the_health_checker_finds_down_is_skipped_without_an_attempt(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory, good: FakeUpstream
) -> None:
    gone = await upstream_factory()
    gone.handler = ollama_like(("qwen3",))
    proxy = await proxy_factory({
        "providers": [provider("gone", gone.base_url), provider("good", good.base_url)],
        "groups": [group("gone/qwen3", "good/qwen3")], "health": {"interval_s": 0.2},
    })  # fmt: skip
    assert gone.server is not None
    await gone.server.close()

    async def red() -> bool:
        async with proxy.get("/status") as resp:
            return (await resp.json())["groups"][0]["targets"][0]["provider_state"] == "unreachable"

    await eventually(red, "the health checker to find the stopped provider")
    before = await counter(proxy, "proxyd_failovers_total")
    assert (await answer(proxy))[1]["x-proxyd-provider"] == "good"
    assert await counter(proxy, "proxyd_failovers_total") == before  # no attempt, so no failover


async def test_weighted_spreads_requests_by_weight(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory
) -> None:
    fakes = [await upstream_factory() for _ in range(2)]
    for fake in fakes:
        fake.handler = ollama_like(("qwen3",))
    targets = [{"target": "heavy/qwen3", "weight": 3}, {"target": "light/qwen3", "weight": 1}]
    proxy = await proxy_factory({"providers": [provider("heavy", fakes[0].base_url), provider("light", fakes[1].base_url)],
                                 "groups": [group(*[], strategy="weighted") | {"targets": targets}]})  # fmt: skip
    served = [(await answer(proxy))[1]["x-proxyd-provider"] for _ in range(200)]
    assert 120 <= served.count("heavy") <= 180  # 150 expected; the bounds are five standard deviations


async def test_least_busy_sends_the_next_request_where_none_is_in_flight(
    proxy_factory: ProxyFactory, upstream_factory: UpstreamFactory
) -> None:
    release = asyncio.Event()
    healthy = ollama_like(("qwen3",))

    async def slow(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            await release.wait()
        return await healthy(request)

    fakes = [await upstream_factory() for _ in range(2)]
    for fake in fakes:
        fake.handler = slow
    proxy = await proxy_factory({"providers": [provider("one", fakes[0].base_url, timeouts={"first_byte_s": 30}),
                                               provider("two", fakes[1].base_url, timeouts={"first_byte_s": 30})],
                                 "groups": [group("one/qwen3", "two/qwen3", strategy="least-busy")]})  # fmt: skip
    first = asyncio.create_task(answer(proxy))
    await eventually(lambda: _seen(fakes[0]), "the first request to reach target one")
    second = asyncio.create_task(answer(proxy))
    await eventually(lambda: _seen(fakes[1]), "the second request to go to the idle target")
    release.set()
    assert [(await t)[1]["x-proxyd-provider"] for t in (first, second)] == ["one", "two"]


async def _seen(fake: FakeUpstream) -> bool:
    return any(s.method == "POST" for s in fake.seen)


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
async def test_a_group_mixing_wires_serves_every_client(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, closed_port: int, wire: str
) -> None:
    upstream.handler = SERVERS[wire]
    target: dict[str, Any] = {"name": "up", "base_url": upstream.base_url, "wire": wire}
    if wire == "anthropic":
        target["api_key"] = "sk-ant-test"
    proxy = await proxy_factory({"providers": [provider("down", f"http://127.0.0.1:{closed_port}/v1"), target],
                                 "groups": [group("down/qwen3", "up/qwen3")]})  # fmt: skip
    sdk = openai.AsyncOpenAI(base_url=proxy.origin + "/v1", api_key="any", max_retries=0)
    chat = await sdk.chat.completions.create(model="main", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "Hello! You said: hi"
    response = await sdk.responses.create(model="main", input="hi")
    assert response.output_text == "Hello! You said: hi"
    claude = anthropic.AsyncAnthropic(base_url=proxy.origin, api_key="any", max_retries=0)
    async with claude.messages.stream(model="main", max_tokens=50, messages=[{"role": "user", "content": "hi"}]) as s:
        message = await s.get_final_message()
    assert message.content[0].text == "Hello! You said: hi"  # type: ignore[union-attr]


async def test_models_lists_the_group_as_one_model(proxy_factory: ProxyFactory, good: FakeUpstream) -> None:
    proxy = await proxy_factory({"providers": [provider("good", good.base_url)], "groups": [group("good/qwen3")]})
    async with proxy.get("/v1/models") as resp:
        listed = {m["id"]: m for m in (await resp.json())["data"]}
    assert listed["main"]["group"] == {"strategy": "ordered", "targets": ["good/qwen3"]}


async def test_a_reload_that_changes_the_group_leaves_a_request_in_flight_alone(
    tmp_path: Path, upstream_factory: UpstreamFactory, good: FakeUpstream
) -> None:
    release = asyncio.Event()

    async def slow_stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for text in ("one ", "two"):
            chunk = {
                "id": "c",
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": text}}],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await release.wait()
        end = {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        await resp.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        return resp

    old = await upstream_factory()
    old.handler = slow_stream
    path = tmp_path / "proxyd.yaml"
    providers = [provider("old", old.base_url), provider("good", good.base_url)]
    raw: dict[str, Any] = {"health": {"interval_s": 0}, "store": {"enabled": False}, "providers": providers}
    path.write_text(yaml.safe_dump({**raw, "groups": [group("old/qwen3")]}))
    running = await start(load_config(path, {}), str(path), ReloadFrom(path, watch=False))
    proxy = ProxyClient(aiohttp.ClientSession(), running.port, running.app)
    try:
        async with proxy.post("/v1/chat/completions", json={**CHAT, "stream": True}) as resp:
            assert resp.headers["x-proxyd-provider"] == "old"
            first = await resp.content.readline()
            assert b"one" in first
            path.write_text(yaml.safe_dump({**raw, "groups": [group("good/qwen3")]}))
            assert await running.app[RELOADS].reload("test")
            assert (await answer(proxy))[1]["x-proxyd-provider"] == "good"  # new requests see the new group
            release.set()
            rest = await resp.text()
        assert "two" in rest and rest.rstrip().endswith("[DONE]")  # the one in flight finished where it began
        assert set(running.app[RUNTIME].targets) <= {"good/qwen3"}  # what the old group knew is gone
    finally:
        await proxy.session.close()
        await running.runner.cleanup()
