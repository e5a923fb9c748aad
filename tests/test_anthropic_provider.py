"""`wire: anthropic` providers: the real openai SDK, strict, as a chat and as a Responses client
of a fake Anthropic API that refuses what Anthropic's API refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import openai
import pytest

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.anthropic import anthropic_server

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
CHAT_TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "exec_command",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
        },
    }
]
RESPONSES_TOOLS: Any = [
    {
        "type": "function",
        "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
]


@pytest.fixture
async def sdk(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    upstream.handler = anthropic_server
    client = await proxy_factory(
        {
            "providers": [
                {
                    "name": "claude",
                    "base_url": upstream.base_url + "/messages",
                    "api_key": "sk-ant-test",
                    "prompt_cache": "off",
                }
            ]
        }
    )
    async with openai.AsyncOpenAI(
        base_url=f"{client.origin}/v1", api_key="x", max_retries=0, _strict_response_validation=True
    ) as sdk:
        yield sdk


async def test_a_pasted_messages_url_means_anthropic_with_its_headers(
    sdk: openai.AsyncOpenAI, upstream: FakeUpstream
) -> None:
    reply = await sdk.chat.completions.create(model="claude/claude-x", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello! You said: hi" and reply.choices[0].finish_reason == "stop"
    sent = upstream.last
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01" and "Authorization" not in sent.headers
    body = sent.json()
    assert body["max_tokens"] > 0 and body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    ]


async def test_chat_stream_with_system_and_a_tool_round_trip(sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    messages: Any = [{"role": "system", "content": "be brief"}, {"role": "developer", "content": "really"},
                     {"role": "user", "content": "call a tool"}]  # fmt: skip
    stream = await sdk.chat.completions.create(model="claude/claude-x", messages=messages, tools=CHAT_TOOLS, stream=True,
                                               stream_options={"include_usage": True})  # fmt: skip
    chunks = [c async for c in stream]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function is not None and calls[0].function.name == "exec_command"
    assert "".join(tc.function.arguments or "" for tc in calls if tc.function) == '{"cmd": "echo hi"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 12
    sent = upstream.last.json()
    assert sent["system"] == "be brief\n\nreally" and all(m["role"] != "system" for m in sent["messages"])
    history: Any = [*messages, {"role": "assistant", "content": None, "tool_calls": [
        {"id": calls[0].id, "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd": "echo hi"}'}}]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "hi\n"}]  # fmt: skip
    again = await sdk.chat.completions.create(model="claude/claude-x", messages=history, tools=CHAT_TOOLS)
    assert again.choices[0].message.content == "Hello! You said: tool-output"
    turns = upstream.last.json()["messages"]
    assert turns[1]["content"][0]["type"] == "tool_use" and turns[2]["content"][0]["type"] == "tool_result"


async def test_reasoning_effort_is_a_valid_thinking_budget(sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    reply = await sdk.chat.completions.create(model="claude/claude-x", messages=[{"role": "user", "content": "think"}],
                                              reasoning_effort="high", max_tokens=5000, temperature=0.3)  # fmt: skip
    assert reply.choices[0].message.content == "Hello! You said: think"
    assert reply.choices[0].message.model_extra is not None
    assert reply.choices[0].message.model_extra["reasoning_content"] == "Let me think."
    sent = upstream.last.json()
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 4096} and "temperature" not in sent
    small = await sdk.chat.completions.create(model="claude/claude-x", messages=[{"role": "user", "content": "think"}],
                                              reasoning_effort="high", max_tokens=500)  # fmt: skip
    assert small.choices[0].message.content and "thinking" not in upstream.last.json()  # no room for a 1024 budget


async def test_responses_client_streams_with_tools(sdk: openai.AsyncOpenAI) -> None:
    async with sdk.responses.stream(model="claude/claude-x", input="call a tool", tools=RESPONSES_TOOLS) as stream:
        final = await stream.get_final_response()
    call = final.output[-1]
    assert call.type == "function_call" and call.name == "exec_command" and call.arguments == '{"cmd": "echo hi"}'
    text = await sdk.responses.create(model="claude/claude-x", input="hi", instructions="be brief")
    assert text.output_text == "Hello! You said: hi" and text.status == "completed"


async def test_provider_errors_reach_openai_clients_in_their_shape(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    upstream.handler = anthropic_server
    client = await proxy_factory(
        {
            "providers": [
                {"name": "claude", "base_url": upstream.base_url, "wire": "anthropic", "api_key": "sk-wrong-key-123"}
            ]
        }
    )
    async with openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.chat.completions.create(model="claude/claude-x", messages=[{"role": "user", "content": "hi"}])
    error = caught.value.body
    assert isinstance(error, dict) and "invalid x-api-key" in error["message"] and "sk-wrong-key-123" not in str(error)


async def test_thinking_signatures_survive_a_responses_round_trip(
    sdk: openai.AsyncOpenAI, upstream: FakeUpstream
) -> None:
    first = await sdk.responses.create(
        model="claude/claude-x", input="think", reasoning={"effort": "high"}, max_output_tokens=5000
    )
    reasoning = first.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content is not None
    assert reasoning.encrypted_content.endswith("sig-abc")
    history: Any = [{"role": "user", "content": "think"}, reasoning.model_dump(exclude_none=True),
                    {"role": "assistant", "content": first.output_text}, {"role": "user", "content": "hi"}]  # fmt: skip
    again = await sdk.responses.create(
        model="claude/claude-x", input=history, reasoning={"effort": "high"}, max_output_tokens=5000
    )
    assert again.output_text == "Hello! You said: hi"
    turns = upstream.last.json()["messages"]
    assert turns[1]["role"] == "assistant"
    assert turns[1]["content"][0] == {"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"}
    # OpenAI's own encrypted reasoning never reaches an Anthropic provider as a signature.
    foreign: Any = [{"role": "user", "content": "think"}, {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "gAAAA-openai"},
                    {"role": "assistant", "content": "ok"}, {"role": "user", "content": "hi"}]  # fmt: skip
    await sdk.responses.create(model="claude/claude-x", input=foreign)
    assert "gAAAA" not in upstream.last.body.decode()
