"""The Responses API through proxyd to chat-only fake upstreams, checked by the real openai SDK
in strict validation mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.echo import chat_server, chunk
from tests.helpers import eventually

ProxyFactory = Callable[..., Awaitable[ProxyClient]]


@pytest.fixture
async def client(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = chat_server
    return await proxy_factory(
        {
            "providers": [
                {"name": "llama", "base_url": upstream.base_url, "wire": "chat"},
                {"name": "auto", "base_url": upstream.base_url, "wire": "auto"},
                {"name": "whole", "base_url": upstream.base_url, "wire": "chat", "streaming": False},
            ]
        }
    )


@pytest.fixture
def sdk(client: ProxyClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{client.origin}/v1", api_key="x", max_retries=0, _strict_response_validation=True
    )


TOOLS: Any = [
    {
        "type": "function",
        "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
]


async def test_json_text_answer(sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    response = await sdk.responses.create(model="llama/qwen3", input="hi", instructions="be brief")
    assert response.output_text == "Hello! You said: hi" and response.status == "completed"
    assert response.usage is not None and response.usage.total_tokens == 15
    sent = upstream.last
    assert sent.path == "/v1/chat/completions"
    assert sent.json()["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert sent.json()["model"] == "qwen3"


async def test_streamed_text_answer(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(model="llama/qwen3", input="hi", stream=True)
    events = [event async for event in stream]
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello! You said: hi"


@pytest.mark.parametrize("said", ["hi", "call a tool", "call two tools", "think"])
async def test_stream_helper_final_response(sdk: openai.AsyncOpenAI, said: str) -> None:
    async with sdk.responses.stream(model="llama/qwen3", input=said, tools=TOOLS) as stream:
        final = await stream.get_final_response()
    kinds = [item.type for item in final.output]
    expected = {"hi": ["message"], "call a tool": ["function_call"], "call two tools": ["function_call", "function_call"],
                "think": ["reasoning", "message"]}[said]  # fmt: skip
    assert kinds == expected
    if said == "call two tools":
        assert [(i.call_id, i.arguments) for i in final.output] == [
            ("call_a", '{"cmd":"ls"}'),
            ("call_b", '{"cmd":"pwd"}'),
        ]  # type: ignore[union-attr]


async def test_length_cut_is_response_incomplete(sdk: openai.AsyncOpenAI) -> None:
    # The SDK's get_final_response() accepts only response.completed (for OpenAI itself too),
    # so the helper's events are read instead.
    async with sdk.responses.stream(model="llama/qwen3", input="long") as stream:
        events = [event async for event in stream]
    last = events[-1]
    assert last.type == "response.incomplete" and last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output[0].content[0].text == "It was the best of"  # type: ignore[union-attr]


async def test_tool_round_trip_history(sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    first = await sdk.responses.create(model="llama/qwen3", input="call a tool", tools=TOOLS)
    call = first.output[0]
    assert call.type == "function_call" and call.name == "exec_command"
    history: Any = [{"role": "user", "content": "call a tool"}, call.model_dump(exclude_none=True),
                    {"type": "function_call_output", "call_id": call.call_id, "output": "hi\n"}]  # fmt: skip
    second = await sdk.responses.create(model="llama/qwen3", input=history, tools=TOOLS)
    assert second.output_text == "Hello! You said: tool-output"
    messages = upstream.last.json()["messages"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id and messages[2] == {
        "role": "tool",
        "tool_call_id": call.call_id,
        "content": "hi\n",
    }


async def test_upstream_error_mid_stream_is_response_failed(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(model="llama/qwen3", input="break", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.failed"
    assert events[-1].response.error is not None and "out of memory" in events[-1].response.error.message


async def test_auto_falls_back_once_and_remembers(client: ProxyClient, upstream: FakeUpstream) -> None:
    first = await client.post("/v1/responses", json={"model": "auto/qwen3", "input": "hi"})
    assert first.status == 200 and (await first.json())["output"][0]["content"][0]["text"] == "Hello! You said: hi"
    assert [s.path for s in upstream.seen] == ["/v1/responses", "/v1/chat/completions"]  # the first request is not lost
    await (await client.post("/v1/responses", json={"model": "auto/qwen3", "input": "again"})).read()
    assert [s.path for s in upstream.seen][2:] == ["/v1/chat/completions"]  # remembered: no second probe
    metrics = await (await client.get("/metrics")).text()
    assert 'proxyd_fallbacks_total{from="responses",provider="auto",to="chat"} 1.0' in metrics
    assert 'proxyd_translations_total{from="responses",to="chat"} 2.0' in metrics


async def test_auto_relays_an_api_error_of_its_own(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    async def no_such_model(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "model 'x' not found", "type": "invalid_request_error", "code": "model_not_found"}},
            status=404,
        )

    upstream.handler = no_such_model
    client = await proxy_factory({"providers": [{"name": "auto", "base_url": upstream.base_url, "wire": "auto"}]})
    resp = await client.post("/v1/responses", json={"model": "auto/x", "input": "hi"})
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "model_not_found"
    assert [s.path for s in upstream.seen] == ["/v1/responses"]


async def test_streaming_off_provider_still_streams_events(sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    async with sdk.responses.stream(model="whole/qwen3", input="call two tools", tools=TOOLS) as stream:
        final = await stream.get_final_response()
    assert [item.type for item in final.output] == ["function_call", "function_call"]
    assert "stream" not in upstream.last.json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": 42}, "input"),
        ({"input": [{"type": "mystery"}]}, "input"),  # a newer item type is dropped; then nothing is left
        ({"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]}, "input[0].call_id"),
        ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ],
)
async def test_bad_responses_bodies_are_400_naming_the_field(
    client: ProxyClient, upstream: FakeUpstream, body: dict[str, Any], param: str
) -> None:
    resp = await client.post("/v1/responses", json={"model": "llama/qwen3", **body})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["param"] == param and error["message"].startswith(param)
    assert not upstream.seen


GOLDEN = Path(__file__).parent / "wires" / "responses" / "golden"


async def responses_server(request: web.Request) -> web.StreamResponse:
    """A Responses-only provider that answers with a recorded transcript."""
    if not request.path.endswith("/responses"):
        return web.Response(status=404, text="404 page not found")
    body = await request.json()
    said = body["input"][-1]["content"]
    transcript = (GOLDEN / ("parallel_tools.sse" if said == "tools" else "text.sse")).read_bytes()
    if not body.get("stream"):
        last = [line for line in transcript.split(b"\n") if line.startswith(b"data: {")][-1]
        return web.json_response(json.loads(last[6:])["response"])
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(transcript)
    return resp


@pytest.fixture
async def chat_sdk(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> openai.AsyncOpenAI:
    upstream.handler = responses_server
    client = await proxy_factory({"providers": [{"name": "oa", "base_url": upstream.base_url, "wire": "responses"}]})
    return openai.AsyncOpenAI(
        base_url=f"{client.origin}/v1", api_key="x", max_retries=0, _strict_response_validation=True
    )


async def test_chat_client_of_a_responses_provider(chat_sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    completion = await chat_sdk.chat.completions.create(model="oa/gpt", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "Hello." and completion.usage is not None
    sent = upstream.last
    assert sent.path == "/v1/responses" and sent.json()["input"] == [
        {"type": "message", "role": "user", "content": "hi"}
    ]
    assert sent.json()["store"] is False
    stream = await chat_sdk.chat.completions.create(
        model="oa/gpt",
        messages=[{"role": "user", "content": "tools"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [(c.index, c.id) for c in calls if c.id] == [(0, "call_a"), (1, "call_b")]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 19


async def requests_done(client: ProxyClient, count: int) -> bool:
    metrics = await (await client.get("/metrics")).text()
    series = 'proxyd_requests_total{client="default",endpoint="responses",provider="llama",status="200"}'
    return f"{series} {count:.1f}" in metrics


async def test_a_stream_ends_at_done_even_if_the_provider_lingers(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """A server that sends [DONE] and ends its body a little later: the client is done at
    [DONE], and the connection still goes back to the pool once the body ends."""
    ended = 0

    async def lingering(request: web.Request) -> web.StreamResponse:
        nonlocal ended
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunk({"content": "hi"}) + chunk({}, "stop") + b"data: [DONE]\n\n")
        await asyncio.sleep(0.3)
        ended += 1
        return resp

    upstream.handler = lingering
    client = await proxy_factory({"providers": [{"name": "llama", "base_url": upstream.base_url, "wire": "chat"}]})
    for turn in range(2):
        async with client.post("/v1/responses", json={"model": "llama/q", "input": "x", "stream": True}) as resp:
            text = await resp.text()
            assert ended == turn  # the upstream's body was still open when the client had it all
        assert "event: response.completed" in text and text.endswith("data: [DONE]\n\n")
        # The request is counted once its handler is done, after the body's end was read and
        # the connection went back to the pool.
        await eventually(lambda turn=turn: requests_done(client, turn + 1), "the request to finish")
    assert len(upstream.peers) == 1  # one upstream connection, reused
