"""`wire: auto` the other way: chat, Responses and Anthropic clients of a server (or a model)
that answers only on /responses, through real SDKs, against strict fakes whose refusals of
/chat/completions are the servers' own (OpenAI's missing route, a FastAPI server's, a gateway's
"legacy protocol", OpenAI's Responses-only models)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import openai
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.scripted import chat_server, responses_server
from tests.test_autowire import status_of
from tests.toolcalls.clients import events, request_for

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAID = "It is sunny in Paris."  # what the fakes answer to "hi"
UNKNOWN = {"error": {"message": "The model `nope` does not exist or you do not have access to it.",
                     "type": "invalid_request_error", "param": None, "code": "model_not_found"}}  # fmt: skip

CHAT_REFUSED = {
    "openai-like": (404, {"error": {"message": "Invalid URL (POST /v1/chat/completions)", "type": "invalid_request_error", "param": None, "code": None}}),
    "fastapi": (404, {"detail": "Not Found"}),
    "gateway": (400, {"error": {"type": "invalid_request_error", "message": "Unsupported legacy protocol: /v1/chat/completions is not supported. Please use /v1/responses."}}),
}  # fmt: skip
RESPONSES_ONLY_MODEL = {"error": {"message": "This model is only supported in v1/responses and not in v1/chat/completions.",
                                  "type": "invalid_request_error", "param": "model", "code": None}}  # fmt: skip


def responses_only(refused: tuple[int, dict[str, Any]]) -> Handler:
    """A server with only /responses (strict, and strict about models): chat gets ``refused``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/chat/completions"):
            return web.json_response(refused[1], status=refused[0])
        if request.path.endswith("/responses") and (await request.json()).get("model") == "nope":
            return web.json_response(UNKNOWN, status=404)
        return await responses_server(request)

    return handle


def some_models_only_on_responses(request_models: tuple[str, ...] = ("codex-mini", "o1-pro")) -> Handler:
    """OpenAI's API: every model on /responses, all but a few on chat."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/chat/completions") and (await request.json()).get("model") in request_models:
            return web.json_response(RESPONSES_ONLY_MODEL, status=404)
        if request.path.endswith("/chat/completions"):
            return await chat_server(request)
        return await responses_server(request)

    return handle


async def auto(proxy_factory: ProxyFactory, upstream: FakeUpstream, handler: Handler) -> ProxyClient:
    upstream.handler = handler
    return await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": "auto"}]})


def sdks(client: ProxyClient) -> tuple[openai.AsyncOpenAI, anthropic.AsyncAnthropic]:
    """Strict about what proxyd writes (chat); the fake's own Responses objects pass through."""
    chat = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0,
                              _strict_response_validation=True)  # fmt: skip
    return chat, anthropic.AsyncAnthropic(base_url=client.origin, api_key="x", max_retries=0)


def lenient(client: ProxyClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)


def paths(upstream: FakeUpstream) -> list[str]:
    return [s.path.removeprefix("/v1") for s in upstream.seen]


@pytest.mark.parametrize("kind", list(CHAT_REFUSED))
async def test_every_client_reaches_a_responses_only_server(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, kind: str
) -> None:
    client = await auto(proxy_factory, upstream, responses_only(CHAT_REFUSED[kind]))
    chat, claude = sdks(client)
    first = await chat.chat.completions.create(model="p/m", messages=[{"role": "user", "content": "hi"}])
    assert first.choices[0].message.content == SAID
    assert paths(upstream) == ["/chat/completions", "/responses"]
    entry = await status_of(client)
    status = CHAT_REFUSED[kind][0]
    assert entry["detected_wire"] == "responses"
    assert entry["detected_wire_reason"].startswith(f"POST /chat/completions answered {status}")

    stream = await chat.chat.completions.create(model="p/m", messages=[{"role": "user", "content": "hi"}],
                                                stream=True, stream_options={"include_usage": True})  # fmt: skip
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == SAID and paths(upstream)[2:] == ["/responses"]  # remembered: straight there

    message = await claude.messages.create(model="p/m", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].type == "text" and message.content[0].text == SAID
    response = await lenient(client).responses.create(model="p/m", input="hi")
    assert response.output_text == SAID
    assert paths(upstream)[3:] == ["/responses", "/responses"]
    metrics = await (await client.get("/metrics")).text()
    assert 'proxyd_fallbacks_total{from="chat",provider="p",to="responses"} 1.0' in metrics


async def test_an_anthropic_client_tries_messages_then_chat_then_responses(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await auto(proxy_factory, upstream, responses_only(CHAT_REFUSED["openai-like"]))
    _, claude = sdks(client)
    async with claude.messages.stream(model="p/m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        final = await s.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == SAID
    assert paths(upstream) == ["/messages", "/chat/completions", "/responses"]
    assert (await status_of(client))["detected_wire"] == "responses"


async def test_an_unknown_model_on_a_responses_only_server_teaches_nothing(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await auto(proxy_factory, upstream, responses_only(CHAT_REFUSED["openai-like"]))
    resp = await client.post(
        "/v1/chat/completions", json={"model": "p/nope", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert resp.status == 404
    error = (await resp.json())["error"]
    assert "nope" in error["message"] and isinstance(error["type"], str)
    assert (await status_of(client))["detected_wire"] is None
    ok = await client.post(
        "/v1/chat/completions", json={"model": "p/m", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert ok.status == 200  # the next request probes again, and learns
    assert paths(upstream) == ["/chat/completions", "/responses"] * 2


async def test_models_only_on_responses_are_remembered_one_by_one(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await auto(proxy_factory, upstream, some_models_only_on_responses())
    chat, _ = sdks(client)

    async def ask(model: str) -> str | None:
        done = await chat.chat.completions.create(model=f"p/{model}", messages=[{"role": "user", "content": "hi"}])
        return done.choices[0].message.content

    assert await ask("codex-mini") == SAID
    assert paths(upstream) == ["/chat/completions", "/responses"]
    assert await ask("gpt-4o") == SAID and await ask("codex-mini") == SAID
    assert paths(upstream)[2:] == ["/chat/completions", "/responses"]  # each model on its own wire
    entry = await status_of(client)
    assert entry["detected_wire"] == "chat"
    assert entry["detected_model_wires"]["codex-mini"]["wire"] == "responses"
    assert "only supported in v1/responses" in entry["detected_model_wires"]["codex-mini"]["reason"]

    # A Responses client of a chat provider is translated to chat, until a model sends it back.
    responses = lenient(client).responses
    assert (await responses.create(model="p/o1-pro", input="hi")).output_text == SAID
    assert paths(upstream)[4:] == ["/chat/completions", "/responses"]
    assert (await responses.create(model="p/o1-pro", input="hi")).output_text == SAID
    assert paths(upstream)[6:] == ["/responses"]
    assert (await status_of(client))["detected_model_wires"]["o1-pro"]["wire"] == "responses"
    metrics = await (await client.get("/metrics")).text()
    assert 'proxyd_fallbacks_total{from="chat",provider="p",to="responses"} 2.0' in metrics


async def test_the_fallback_is_logged_with_its_direction(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await auto(proxy_factory, upstream, some_models_only_on_responses())
    body = {"model": "p/codex-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert (await client.post("/v1/chat/completions", json=body)).status == 200
    lines = [line for line in capsys.readouterr().out.splitlines() if "chat_fallback" in line]
    assert len(lines) == 1 and "model=codex-mini" in lines[0] and "to=responses" in lines[0]
    assert "only supported in v1/responses" in lines[0]


async def test_a_repaired_stream_on_the_first_request_teaches_the_wire(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """A chat client's first stream to an unknown wire: auto provider, with repair on: its
    Hermes call is repaired (as on a known wire), and the answer teaches chat."""
    upstream.handler = chat_server
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": "auto",
                                                 "tool_calls": {"repair": True}}]})  # fmt: skip
    resp = await client.post("/v1/chat/completions", json=request_for("chat", "p/m", "text:hermes", stream=True))
    calls = [c for e in events(await resp.read()) for choice in e.get("choices") or []
             for c in choice["delta"].get("tool_calls") or []]  # fmt: skip
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert (await status_of(client))["detected_wire"] == "chat"
