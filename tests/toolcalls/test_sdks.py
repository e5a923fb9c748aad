"""The real SDKs, strict, through proxyd with repair on, to a model that writes its calls as text.

Each conversation runs two turns: the model's call (written as Hermes ``<tool_call>`` text by a
chat server without its tool parser) must reach the SDK as a proper tool call of its API, whose
arguments the SDK parses and validates; the tool's result then goes back and the answer follows.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import anthropic
import openai
import pydantic
import pytest

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.scripted import chat_server
from tests.toolcalls.clients import tools_for

ProxyFactory = Callable[..., Awaitable[ProxyClient]]


class GetWeather(pydantic.BaseModel):
    """Get the current weather in a city."""

    model_config = pydantic.ConfigDict(extra="forbid")
    city: str
    days: int | None = None


@pytest.fixture
async def origin(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> str:
    upstream.handler = chat_server
    client = await proxy_factory({"providers": [{"name": "local", "base_url": upstream.base_url, "wire": "chat",
                                                 "models": [{"id": "qwen", "tool_calls": {"repair": True}}]}]})  # fmt: skip
    return client.origin


@pytest.mark.parametrize("shape", ["hermes", "mistral_args", "llama_python_tag"])
async def test_openai_chat_parse_with_a_strict_pydantic_tool(origin: str, shape: str) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{origin}/v1", api_key="x", max_retries=0)
    messages: list[dict[str, object]] = [{"role": "user", "content": f"text:{shape}"}]
    first = await sdk.chat.completions.parse(
        model="local/qwen", messages=messages, tools=[openai.pydantic_function_tool(GetWeather, name="get_weather")]
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert isinstance(call.function.parsed_arguments, GetWeather) and call.function.parsed_arguments.city == "Paris"
    assert first.choices[0].finish_reason == "tool_calls"
    messages += [first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]  # fmt: skip
    second = await sdk.chat.completions.create(model="local/qwen", messages=messages)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "done: sunny"


async def test_openai_chat_stream_helper(origin: str) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{origin}/v1", api_key="x", max_retries=0)
    async with sdk.chat.completions.stream(
        model="local/qwen", messages=[{"role": "user", "content": "text:hermes_two_after_prose"}],
        tools=[openai.pydantic_function_tool(GetWeather, name="get_weather")],
    ) as stream:  # fmt: skip
        text = "".join([e.delta async for e in stream if e.type == "content.delta"])
        final = await stream.get_final_completion()
    message = final.choices[0].message
    assert [c.function.parsed_arguments.city for c in message.tool_calls or []] == ["Paris", "Rome"]  # type: ignore[union-attr]
    assert text.strip() == "Let me check both." and "<tool_call>" not in (message.content or "")


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_responses_two_turns(origin: str, stream: bool) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{origin}/v1", api_key="x", max_retries=0)
    tools = tools_for("responses")
    if stream:
        async with sdk.responses.stream(model="local/qwen", input="text:gpt_oss_harmony", tools=tools) as events:  # type: ignore[arg-type]
            first = await events.get_final_response()
    else:
        first = await sdk.responses.create(model="local/qwen", input="text:gpt_oss_harmony", tools=tools)  # type: ignore[arg-type]
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Berlin"}
    assert not [item for item in first.output if item.type == "message"]  # the text that held the call is gone
    second = await sdk.responses.create(
        model="local/qwen", previous_response_id=first.id, tools=tools,  # type: ignore[arg-type]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "windy"}],
    )  # fmt: skip
    assert second.output_text == "done: windy"


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_messages_two_turns(origin: str, stream: bool) -> None:
    sdk = anthropic.AsyncAnthropic(base_url=origin, api_key="x", max_retries=0)
    tools = tools_for("anthropic")
    messages: list[dict[str, object]] = [{"role": "user", "content": "text:qwen3_coder_xml"}]
    if stream:
        async with sdk.messages.stream(model="local/qwen", max_tokens=500, messages=messages, tools=tools) as events:  # type: ignore[arg-type]
            first = await events.get_final_message()
    else:
        first = await sdk.messages.create(model="local/qwen", max_tokens=500, messages=messages, tools=tools)  # type: ignore[arg-type]
    assert first.stop_reason == "tool_use"
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "square_the_number" and use.input == {"input_num": 1024}  # typed by the tool's schema
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "1048576"}]}]  # fmt: skip
    second = await sdk.messages.create(model="local/qwen", max_tokens=500, messages=messages, tools=tools)  # type: ignore[arg-type]
    assert second.content[0].text == "done: 1048576"  # type: ignore[union-attr]
