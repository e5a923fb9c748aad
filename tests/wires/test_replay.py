from __future__ import annotations

import json
from typing import Any

import pytest

from proxyd.sse import SSEDecoder
from proxyd.wires.chat import completion_to_sse
from proxyd.wires.pivot import completion_chunks
from proxyd.wires.responses.replay import response_to_sse

COMPLETION = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "created": 7,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "reasoning_content": "thinking",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


def test_chunks_carry_the_whole_message_then_the_finish_reason() -> None:
    first, finish = completion_chunks(COMPLETION, include_usage=False)
    assert first["object"] == "chat.completion.chunk" and (first["id"], first["created"]) == ("chatcmpl-9", 7)
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {
                "role": "assistant",
                "reasoning_content": "thinking",
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": None,
        }
    ]
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]


def test_usage_chunk_only_when_asked() -> None:
    chunks = completion_chunks(COMPLETION, include_usage=True)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 3


def test_sse_ends_with_done() -> None:
    decoder = SSEDecoder()
    data = [
        e.data
        for e in decoder.feed(completion_to_sse({"choices": [{"message": {"content": "hi"}}]}, include_usage=False))
    ]
    assert data[-1] == "[DONE]"
    assert json.loads(data[0])["choices"][0]["delta"] == {"role": "assistant", "content": "hi"}
    assert json.loads(data[1])["choices"][0]["finish_reason"] == "stop"


RESPONSE: dict[str, Any] = {
    "id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "m",
    "output": [
        {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
        {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": [
            {"type": "output_text", "text": "hi", "annotations": []}, {"type": "refusal", "refusal": "no"}]},
        {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a":1}',
         "status": "completed"},
        {"id": "ws_1", "type": "web_search_call", "status": "completed"},
    ],
    "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
}  # fmt: skip


def events_of(stream: bytes) -> list[tuple[str, dict[str, Any] | str]]:
    events = SSEDecoder().feed(stream)
    return [(e.event, e.data if e.data == "[DONE]" else json.loads(e.data)) for e in events]


def test_a_whole_response_replays_as_the_events_of_a_stream() -> None:
    events = events_of(response_to_sse(RESPONSE))
    assert events[-1] == ("", "[DONE]")
    body = [data for _, data in events[:-1] if isinstance(data, dict)]
    assert [e for e, _ in events[:-1]] == [d["type"] for d in body]  # the event: line names each
    assert [d["sequence_number"] for d in body] == list(range(len(body)))
    assert [d["type"].removeprefix("response.") for d in body] == [
        "created", "in_progress",
        "output_item.added", "reasoning_summary_part.added", "reasoning_summary_text.delta",
        "reasoning_summary_text.done", "reasoning_summary_part.done", "output_item.done",
        "output_item.added", "content_part.added", "output_text.delta", "output_text.done", "content_part.done",
        "content_part.added", "refusal.delta", "refusal.done", "content_part.done", "output_item.done",
        "output_item.added", "function_call_arguments.delta", "function_call_arguments.done", "output_item.done",
        "output_item.added", "output_item.done",
        "completed",
    ]  # fmt: skip
    created, done = body[0]["response"], body[-1]["response"]
    assert (created["status"], created["output"], created["usage"]) == ("in_progress", [], None)
    assert done == RESPONSE
    added = [d for d in body if d["type"] == "response.output_item.added"]
    assert [d["output_index"] for d in added] == [0, 1, 2, 3]
    assert added[1]["item"]["content"] == [] and added[2]["item"]["arguments"] == ""
    text = next(d for d in body if d["type"] == "response.output_text.delta")
    assert (text["item_id"], text["output_index"], text["content_index"], text["delta"]) == ("msg_1", 1, 0, "hi")
    call = next(d for d in body if d["type"] == "response.function_call_arguments.done")
    assert (call["name"], call["arguments"]) == ("f", '{"a":1}')


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("completed", "response.completed"), ("incomplete", "response.incomplete"), ("failed", "response.failed"),
     (None, "response.completed")],
)  # fmt: skip
def test_the_terminal_event_follows_the_status(status: str | None, terminal: str) -> None:
    events = events_of(response_to_sse({"id": "r", "status": status, "output": []}))
    assert events[-2][0] == terminal
