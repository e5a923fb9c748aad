"""The Anthropic Messages API in: the real anthropic SDK, in strict validation mode, through
proxyd to a chat-only server, a Responses server and an Anthropic server (each fake as strict as
the real one)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import pytest
from aiohttp import web

from proxyd.sse import encode_event
from proxyd.wires.responses.replay import response_to_sse
from tests.conftest import FakeUpstream, ProxyClient
from tests.test_forward import answer_chat, answer_for

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
TOOLS: Any = [
    {
        "name": "exec_command",
        "description": "run",
        "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
]


def anthropic_error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)


def validate_anthropic(body: dict[str, Any]) -> str | None:
    """What Anthropic's API would refuse in this request, or None."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    seen_tools: set[str] = set()
    for i, message in enumerate(body.get("messages") or []):
        # A system message inside messages is taken (Claude Code 2.1.328 sends its environment so)
        if message.get("role") not in ("user", "assistant", "system"):
            return f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
        blocks = message["content"] if isinstance(message["content"], list) else []
        for block in blocks:
            if block.get("type") == "tool_use":
                seen_tools.add(block["id"])
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in seen_tools:
                return f"messages.{i}: unexpected tool_use_id found in tool_result blocks"
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{i}: text content blocks must be non-empty"
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens", 0)
        if budget < 1024 or budget >= body["max_tokens"]:
            return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
        if body.get("temperature") is not None:
            return "temperature may only be set to 1 when thinking is enabled"
    return None


async def anthropic_request(request: web.Request, key: str | None = None) -> dict[str, Any] | web.Response:
    """The body of a request Anthropic's API would take, or the error it would answer instead
    (unknown path, wrong ``key`` when one is asked, no ``anthropic-version``, a refused body)."""
    if not request.path.endswith("/messages"):
        return anthropic_error(404, "not_found_error", "Not found")
    if key is not None and request.headers.get("x-api-key") != key:
        return anthropic_error(401, "authentication_error", "invalid x-api-key")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", request.headers.get("anthropic-version", "")):
        return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
    body = await request.json()
    problem = validate_anthropic(body)
    return anthropic_error(400, "invalid_request_error", problem) if problem else body


def anthropic_events(
    text: str, *, tool: dict[str, Any] | None = None, thinking: str = "", stop: str = "end_turn"
) -> bytes:
    message = {
        "id": "msg_up1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-x",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    index = 0
    if thinking:
        events += [
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": thinking}},
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": "sig-abc"},
            },
            {"type": "content_block_stop", "index": index},
        ]
        index += 1
    if text:
        events += [
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}},
            {"type": "content_block_stop", "index": index},
        ]
        index += 1
    if tool:
        events += [
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool["input"])[:5]},
            },
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool["input"])[5:]},
            },
            {"type": "content_block_stop", "index": index},
        ]
    events += [{"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 7}},
               {"type": "message_stop"}]  # fmt: skip
    return b"".join(encode_event(json.dumps(e), e["type"]) for e in events)


async def anthropic_server(request: web.Request) -> web.StreamResponse:
    if request.path.endswith("/messages/count_tokens"):
        counted = await request.json()
        return web.json_response({"input_tokens": len(json.dumps(counted["messages"])) // 4})
    body = await anthropic_request(request, key="sk-ant-test")
    if isinstance(body, web.Response):
        return body
    last = body["messages"][-1]
    said = (
        last["content"]
        if isinstance(last["content"], str)
        else next((b.get("text") for b in last["content"] if b.get("type") == "text"), "tool-output")
    )
    tool = {"name": "exec_command", "input": {"cmd": "echo hi"}} if said == "call a tool" else None
    stream = anthropic_events("" if tool else f"Hello! You said: {said}", tool=tool, thinking="Let me think." if said == "think" else "",
                              stop="tool_use" if tool else "end_turn")  # fmt: skip
    if not body.get("stream"):
        return web.json_response(whole_message(stream))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(stream)
    return resp


def whole_message(stream: bytes) -> dict[str, Any]:
    events = [json.loads(line[6:]) for line in stream.decode().splitlines() if line.startswith("data: ")]
    message = events[0]["message"]
    blocks: list[dict[str, Any]] = []
    for e in events:
        if e["type"] == "content_block_start":
            blocks.append(dict(e["content_block"]))
        elif e["type"] == "content_block_delta":
            d, b = e["delta"], blocks[-1]
            if d["type"] == "text_delta":
                b["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                b["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                b["signature"] = d["signature"]
            else:
                b["_json"] = b.get("_json", "") + d["partial_json"]
    for b in blocks:
        if "_json" in b:
            b["input"] = json.loads(b.pop("_json"))
    final = next(e for e in events if e["type"] == "message_delta")
    return {**message, "content": blocks, "stop_reason": final["delta"]["stop_reason"],
            "usage": {**message["usage"], "output_tokens": final["usage"]["output_tokens"]}}  # fmt: skip


async def responses_server(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/responses"):
        return web.json_response({"error": {"message": "Invalid URL", "type": "invalid_request_error"}}, status=404)
    body = await request.json()
    chat_like = {"model": body["model"], "messages": [{"role": "user", "content": _last_text(body["input"])}]}
    _, completion = answer_for(chat_like)
    message = completion["choices"][0]["message"]
    output: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        output.append(
            {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": message["reasoning_content"]}],
            }
        )
    if message.get("content"):
        output.append({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": message["content"], "annotations": []}]})  # fmt: skip
    for i, call in enumerate(message.get("tool_calls") or []):
        output.append({"id": f"fc_{i}", "type": "function_call", "status": "completed", "call_id": call["id"],
                       "name": call["function"]["name"], "arguments": call["function"]["arguments"]})  # fmt: skip
    response = {"id": "resp_up", "object": "response", "created_at": 1, "model": body["model"], "status": "completed",
                "output": output, "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}  # fmt: skip
    if not body.get("stream"):
        return web.json_response(response)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(response_to_sse(response))
    return resp


def _last_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    for item in reversed(raw):
        if item.get("type") == "function_call_output":
            return "tool-output"
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content)
    return ""


async def chat_server(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/chat/completions"):
        return web.Response(status=404, text="404 page not found")
    body = await request.json()
    if any(m.get("role") == "tool" for m in body["messages"]) and body["messages"][-1]["role"] == "tool":
        body = {**body, "messages": [*body["messages"], {"role": "user", "content": "tool-output"}]}
    return await answer_chat(request, body)


SERVERS = {"chat": chat_server, "responses": responses_server, "anthropic": anthropic_server}


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
