"""Chat clients of wire: responses providers: request mapping, and answers mapped back.

The golden Responses transcripts of the other direction serve as provider streams here, so a
chat answer goes chat -> Responses -> chat and must come back as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxyd.sse import SSEDecoder
from proxyd.wires.chat import ChatEncoder
from proxyd.wires.errors import TranslationError
from proxyd.wires.responses.request_from_pivot import chat_to_responses
from proxyd.wires.responses.to_pivot import ResponsesDecoder, response_to_completion
from proxyd.wires.translator import StreamTranslator

GOLDEN = Path(__file__).parent / "golden"


def chat_stream_of_responses(include_usage: bool) -> StreamTranslator:
    """A Responses stream's bytes in, a chat client's stream bytes out (through the pivot)."""
    return StreamTranslator(ResponsesDecoder(model="m", created=1), ChatEncoder(include_usage))


def test_request_mapping() -> None:
    body = {
        "model": "gpt",
        "messages": [
            {"role": "system", "content": "rules"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:x", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "max_tokens": 50,
        "reasoning_effort": "low",
        "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}},
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.1,
    }
    assert chat_to_responses(body) == {
        "model": "gpt",
        "store": False,
        "input": [
            {"type": "message", "role": "system", "content": "rules"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "data:x", "detail": "low"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
        ],
        "temperature": 0.1,
        "stream": True,
        "max_output_tokens": 50,
        "reasoning": {"effort": "low", "summary": "auto"},  # without a summary OpenAI sends no reasoning text
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "description": "d"}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "o", "schema": {"type": "object"}}},
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
        (
            {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {}}]},
            "tools[0].function.name",
        ),
    ],
)
def test_bad_chat_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as info:
        chat_to_responses(body)
    assert info.value.param == param


def chat_from(name: str, size: int = 7) -> tuple[list[dict[str, Any]], bytes]:
    wire = (GOLDEN / f"{name}.sse").read_bytes()
    encoder = chat_stream_of_responses(include_usage=True)
    out = b"".join(encoder.feed(wire[i : i + size]) for i in range(0, len(wire), size)) + encoder.finish()
    decoder = SSEDecoder()
    data = [e.data for e in decoder.feed(out) + decoder.flush()]
    return [json.loads(d) for d in data if d != "[DONE]"], out


def test_text_comes_back_as_content_with_usage() -> None:
    chunks, out = chat_from("text")
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]["total_tokens"] == 19
    assert out.endswith(b"data: [DONE]\n\n")


def test_parallel_calls_come_back_as_indexed_tool_calls() -> None:
    chunks, _ = chat_from("parallel_tools", size=3)
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for call in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []:
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] = call.get("id") or entry["id"]
            entry["name"] = call["function"].get("name") or entry["name"]
            entry["arguments"] += call["function"].get("arguments", "")
    assert calls == {
        0: {"id": "call_a", "name": "exec_command", "arguments": '{"cmd":"ls"}'},
        # A namespace member's call carries the pivot's flattened name, as its tool would have.
        1: {"id": "call_b", "name": "mcp_fs__read", "arguments": '{"path":"a"}'},
    }
    assert [c for c in chunks if c["choices"]][-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("name", "finish"), [("length", "length"), ("think_tags", "stop")])
def test_finish_reasons_and_reasoning(name: str, finish: str) -> None:
    chunks, _ = chat_from(name)
    assert [c for c in chunks if c["choices"]][-1]["choices"][0]["finish_reason"] == finish
    if name == "think_tags":
        assert "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"]) == "plan"


@pytest.mark.parametrize("name", ["cut_off", "upstream_error", "not_json"])
def test_failures_end_with_an_error_and_no_done(name: str) -> None:
    chunks, out = chat_from(name)
    assert "error" in chunks[-1] and b"[DONE]" not in out


def test_a_stream_that_just_stops_is_an_error() -> None:
    encoder = chat_stream_of_responses(include_usage=False)
    head = (GOLDEN / "text.sse").read_bytes().split(b"event: response.completed")[0]
    out = encoder.feed(head) + encoder.finish()
    assert b'"error"' in out and b"[DONE]" not in out


def test_json_response_to_completion() -> None:
    decoder = SSEDecoder()
    last = [e for e in decoder.feed((GOLDEN / "parallel_tools.sse").read_bytes()) if e.data != "[DONE]"][-1]
    completion = response_to_completion(json.loads(last.data)["response"], "m")
    message = completion["choices"][0]["message"]
    assert message["content"] == "Running both." and [c["id"] for c in message["tool_calls"]] == ["call_a", "call_b"]
    assert completion["choices"][0]["finish_reason"] == "tool_calls" and completion["usage"]["prompt_tokens"] == 12


def _events(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_custom_and_namespaced_calls_cross_under_the_requests_names() -> None:
    """A Responses provider's custom (free-form) call and a namespace member's call, named as the
    request's tools are in the pivot, so checks and chat clients see the calls that were offered."""
    from proxyd.wires.responses.tools import convert_tools

    tools = convert_tools([{"type": "custom", "name": "apply_patch"},
                           {"type": "namespace", "name": "fs", "tools": [{"type": "function", "name": "read"}]}])  # fmt: skip
    names = tools.names
    patch = 'Begin "patch"\n+x'
    stream = _events(
        {"type": "response.created", "response": {"id": "resp_1"}},
        {
            "type": "response.output_item.added",
            "item": {"id": "ct_1", "type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": ""},
        },
        {"type": "response.custom_tool_call_input.delta", "item_id": "ct_1", "delta": patch[:6]},
        {"type": "response.custom_tool_call_input.delta", "item_id": "ct_1", "delta": patch[6:]},
        {"type": "response.custom_tool_call_input.done", "item_id": "ct_1", "input": patch},
        {
            "type": "response.output_item.added",
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "c2",
                "name": "read",
                "namespace": "fs",
                "arguments": "",
            },
        },
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "{}"},
        {"type": "response.completed", "response": {"status": "completed", "usage": {}}},
    )
    items = ResponsesDecoder(model="m", created=1, names=names).feed(stream)
    calls: dict[int, dict[str, str]] = {}
    for item in items:
        for choice in item.get("choices") or [] if isinstance(item, dict) else []:
            for piece in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(piece["index"], {"name": "", "arguments": ""})
                call["name"] += piece["function"].get("name") or ""
                call["arguments"] += piece["function"].get("arguments") or ""
    assert calls[0]["name"] == "apply_patch" and json.loads(calls[0]["arguments"]) == {"input": patch}
    assert calls[1] == {"name": "fs__read", "arguments": "{}"}
    whole = response_to_completion(
        {"output": [{"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": patch}]}, "m", names
    )
    assert json.loads(whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"input": patch}
