"""The real openai SDK, pointed at proxyd, reaching a provider behind it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import openai
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes import chat_chunk

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
KEY = "sk-provider-only"


def completion(model: str, text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }  # fmt: skip


def chunk(model: str, delta: dict[str, str], finish: str | None = None) -> bytes:
    return chat_chunk(delta, finish, chunk_id="chatcmpl-1", model=model, created=int(time.time()))


async def provider(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Authorization") != f"Bearer {KEY}":
        return web.json_response({"error": {"message": "no key", "type": "auth", "code": None}}, status=401)
    body = await request.json()
    if not body.get("stream"):
        return web.json_response(completion(body["model"], f"hello from {body['model']}"))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(chunk(body["model"], {"role": "assistant", "content": ""}))
    for word in ("streamed ", "from ", body["model"]):
        await resp.write(chunk(body["model"], {"content": word}))
    if body.get("messages", [{}])[0].get("content") != "cut me off":
        await resp.write(chunk(body["model"], {}, "stop") + b"data: [DONE]\n\n")
    return resp


@pytest.fixture
async def sdk(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> openai.AsyncOpenAI:
    upstream.handler = provider
    client = await proxy_factory(
        {
            "providers": [
                {
                    "name": "ollama",
                    "base_url": upstream.base_url,
                    "api_key": KEY,
                    "models": [{"id": "llama3.2", "alias": "fast"}],
                },
                {
                    "name": "openrouter",
                    "base_url": upstream.base_url,
                    "api_key": KEY,
                    "models": ["anthropic/claude-opus-4-7"],
                },
                {"name": "nostream", "base_url": upstream.base_url, "api_key": KEY, "streaming": False},
            ]
        }
    )
    return openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="anything", max_retries=0)


async def test_chat_completion(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.chat.completions.create(
        model="openrouter/anthropic/claude-opus-4-7", messages=[{"role": "user", "content": "hi"}]
    )
    assert result.choices[0].message.content == "hello from anthropic/claude-opus-4-7"
    assert result.usage is not None and result.usage.total_tokens == 5


async def test_streamed_chat_completion(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "streamed from llama3.2"


async def test_stream_from_a_provider_with_streaming_off(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="nostream/qwen", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from qwen"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_cut_stream_raises_in_the_sdk(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "cut me off"}], stream=True
    )
    with pytest.raises(openai.APIError, match="ended the stream before it was complete"):
        async for _ in stream:
            pass


async def test_models_list(sdk: openai.AsyncOpenAI) -> None:
    ids = [m.id async for m in sdk.models.list()]
    assert ids == ["ollama/llama3.2", "fast", "openrouter/anthropic/claude-opus-4-7"]
    model = await sdk.models.retrieve("fast")
    assert model.owned_by == "ollama"


async def test_unknown_model_is_a_not_found_error(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="ollama, openrouter, nostream"):
        await sdk.chat.completions.create(model="mystery", messages=[{"role": "user", "content": "hi"}])


async def test_sdk_with_proxyd_token(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    """With listen.token, the SDK's api_key is the token; a wrong one is the SDK's AuthenticationError."""
    upstream.handler = provider
    token = "proxyd-sdk-token-0042"
    client = await proxy_factory(
        {
            "listen": {"token": token},
            "providers": [{"name": "ollama", "base_url": upstream.base_url, "api_key": KEY, "models": ["llama3.2"]}],
        }
    )
    good = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key=token, max_retries=0)
    reply = await good.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    assert upstream.last.headers["Authorization"] == f"Bearer {KEY}"
    bad = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="sk-not-the-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        await bad.models.list()
    assert info.value.code == "invalid_api_key" and "listen.token" in info.value.message


def whole_response(model: str) -> dict[str, object]:
    return {
        "id": "resp_whole", "object": "response", "created_at": int(time.time()), "status": "completed",
        "model": model, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
        "incomplete_details": None, "instructions": None, "metadata": {},
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking it over"}]},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": f"whole answer from {model}", "annotations": []}]},
            {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "exec_command",
             "arguments": '{"cmd": "ls"}', "status": "completed"},
        ],
        "usage": {"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "output_tokens": 6,
                  "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 10},
    }  # fmt: skip


async def test_responses_stream_from_providers_and_models_that_do_not_stream(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """The SDK's own stream helper accepts the events proxyd makes from a whole Response."""
    asked: list[dict[str, object]] = []

    async def no_streams(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        asked.append(body)
        if request.path.endswith("/responses"):
            return web.json_response(whole_response(body["model"]))
        return web.json_response(completion(body["model"], f"hello from {body['model']}"))

    upstream.handler = no_streams
    client = await proxy_factory(
        {
            "providers": [
                {"name": "native", "base_url": upstream.base_url, "wire": "responses", "streaming": False},
                {"name": "auto", "base_url": upstream.base_url, "streaming": False},
                {"name": "per-model", "base_url": upstream.base_url, "wire": "responses",
                 "models": [{"id": "batch-only", "capabilities": {"streaming": False}}]},
            ]
        }
    )  # fmt: skip
    sdk = openai.AsyncOpenAI(
        base_url=f"{client.origin}/v1", api_key="x", max_retries=0, _strict_response_validation=True
    )
    for model in ("native/m", "auto/m", "per-model/batch-only"):
        asked.clear()
        async with sdk.responses.stream(model=model, input="hi") as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
        assert [a.get("stream") for a in asked] == [None], model  # asked once, for the whole answer
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert "response.reasoning_summary_text.delta" in kinds and "response.function_call_arguments.done" in kinds
        assert final.output_text == f"whole answer from {model.split('/')[1]}"
        assert final.usage is not None and final.usage.total_tokens == 10
    chat = await sdk.chat.completions.create(
        model="per-model/batch-only", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [c async for c in chat]  # a chat client of the same model: chat chunks, made from a whole Response
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "whole answer from batch-only"
    assert [a.get("stream") for a in asked[-1:]] == [None]
