from __future__ import annotations

import json

from proxyd.sse import SSEDecoder
from proxyd.synth import completion_chunks, completion_to_sse

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
