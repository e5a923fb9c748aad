"""The Anthropic Messages API in: the real anthropic SDK, in strict validation mode, through
proxyd to a chat-only server, a Responses server and an Anthropic server (each fake as strict as
the real one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.echo import SERVERS, chat_server

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
TOOLS: Any = [
    {
        "name": "exec_command",
        "description": "run",
        "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
]


@pytest.fixture(params=list(SERVERS))
async def sdk(
    request: pytest.FixtureRequest, proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> anthropic.AsyncAnthropic:
    wire = request.param
    upstream.handler = SERVERS[wire]
    provider: dict[str, Any] = {"name": "p", "base_url": upstream.base_url, "wire": wire,
                                "models": [{"id": "qwen3", "alias": "claude-*sonnet*"}]}  # fmt: skip
    if wire == "anthropic":
        provider["api_key"] = "sk-ant-test"
    client = await proxy_factory({"providers": [provider]})
    return anthropic.AsyncAnthropic(
        base_url=client.origin, api_key="any", max_retries=0, _strict_response_validation=True
    )


async def test_create_answers_in_anthropics_shape(sdk: anthropic.AsyncAnthropic) -> None:
    message = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.type == "message" and message.stop_reason == "end_turn"
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == "Hello! You said: hi"  # type: ignore[union-attr]
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


async def test_stream_text(sdk: anthropic.AsyncAnthropic) -> None:
    async with sdk.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        texts = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "Hello! You said: hi" and final.stop_reason == "end_turn"


async def test_stream_a_tool_call_and_send_its_result_back(sdk: anthropic.AsyncAnthropic) -> None:
    ask: Any = [{"role": "user", "content": "call a tool"}]
    async with sdk.messages.stream(model="claude-sonnet-4-6", max_tokens=100, tools=TOOLS, messages=ask) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = final.content[-1]
    assert call.type == "tool_use" and call.name == "exec_command" and call.input == {"cmd": "echo hi"}
    history: Any = [*ask, {"role": "assistant", "content": [b.model_dump() for b in final.content]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "hi\n"}]}]  # fmt: skip
    again = await sdk.messages.create(model="claude-sonnet-4-6", max_tokens=100, tools=TOOLS, messages=history)
    assert again.content[0].text.endswith("tool-output")  # type: ignore[union-attr]


async def test_count_tokens(sdk: anthropic.AsyncAnthropic) -> None:
    raw = await sdk.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi " * 400}]
    )
    assert 100 < (await raw.parse()).input_tokens < 1000
    assert raw.headers["x-proxyd-token-count"] in ("estimate", "provider")


async def test_count_tokens_asks_a_servers_tokenizer(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    async def llama_cpp(request: web.Request) -> web.Response:
        if request.path != "/tokenize":
            return web.Response(status=404, text="File Not Found")
        body = await request.json()
        return web.json_response({"tokens": list(range(len(body["content"].split())))})

    upstream.handler = llama_cpp
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": "chat"}]})
    asked = {"model": "p/m", "system": "be brief", "messages": [{"role": "user", "content": "one two three"}]}
    resp = await client.post("/v1/messages/count_tokens", json=asked)
    assert (await resp.json()) == {"input_tokens": 5} and resp.headers["X-Proxyd-Token-Count"] == "tokenize"


async def test_errors_are_in_anthropics_shape(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    upstream.handler = chat_server
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": "chat"}]})
    sdk = anthropic.AsyncAnthropic(
        base_url=client.origin, api_key="any", max_retries=0, _strict_response_validation=True
    )
    with pytest.raises(anthropic.NotFoundError) as caught:
        await sdk.messages.create(model="nobody/x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    resp = await client.post("/v1/messages", json={"model": "p/m", "messages": [{"role": "user", "content": "hi"}]})
    body = await resp.json()
    assert resp.status == 400 and body["type"] == "error" and "max_tokens" in body["error"]["message"]
    refused = await client.post("/v1/messages", headers={"Host": "evil.example"}, json={"model": "p/m"})
    body = await refused.json()
    assert refused.status == 403 and body["type"] == "error" and body["error"]["type"] == "permission_error"


async def test_stream_thinking_then_text(sdk: anthropic.AsyncAnthropic) -> None:
    async with sdk.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "think"}]
    ) as stream:
        final = await stream.get_final_message()
    thinking, text = final.content[0], final.content[-1]
    assert thinking.type == "thinking" and thinking.thinking == "Let me think." and isinstance(thinking.signature, str)
    assert text.type == "text" and text.text in ("42", "Hello! You said: think")


@pytest.mark.parametrize("wire", ["chat", "responses"])
async def test_parallel_tool_calls_become_whole_blocks(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, wire: str
) -> None:
    upstream.handler = SERVERS[wire]
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": wire}]})
    async with (
        anthropic.AsyncAnthropic(
            base_url=client.origin, api_key="x", max_retries=0, _strict_response_validation=True
        ) as sdk,
        sdk.messages.stream(
            model="p/m", max_tokens=100, tools=TOOLS, messages=[{"role": "user", "content": "call two tools"}]
        ) as stream,
    ):
        final = await stream.get_final_message()
    assert [(b.type, b.input) for b in final.content] == [("tool_use", {"cmd": "ls"}), ("tool_use", {"cmd": "pwd"})]  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use" and len({b.id for b in final.content}) == 2  # type: ignore[union-attr]


async def test_length_cut_upstream_error_and_cut_stream(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["messages"][-1]["content"] == "cut":
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b'data: {"choices": [{"index": 0, "delta": {"content": "Half"}}]}\n\n')
            return resp
        return await chat_server(request)

    upstream.handler = handler
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": "chat"}]})
    async with anthropic.AsyncAnthropic(
        base_url=client.origin, api_key="x", max_retries=0, _strict_response_validation=True
    ) as sdk:
        async with sdk.messages.stream(
            model="p/m", max_tokens=100, messages=[{"role": "user", "content": "long"}]
        ) as stream:
            final = await stream.get_final_message()
        assert final.stop_reason == "max_tokens" and final.content[0].text == "It was the best of"  # type: ignore[union-attr]
        for said, fragment in (("break", "out of memory"), ("cut", "ended the stream before")):
            with pytest.raises(anthropic.APIStatusError) as caught:
                async with sdk.messages.stream(
                    model="p/m", max_tokens=100, messages=[{"role": "user", "content": said}]
                ) as stream:
                    await stream.get_final_message()
            assert fragment in str(caught.value)
