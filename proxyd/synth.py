"""A chat completion stream made from one JSON chat completion (pure).

For providers configured with ``streaming: false`` (servers whose streaming is broken or
missing): proxyd asks for a plain answer and replays it as the chunk sequence a streaming
client expects, ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from typing import Any

from proxyd.sse import encode_event

_PASSED_MESSAGE_FIELDS = ("content", "refusal", "reasoning_content", "reasoning")


def wants_usage(chat_request: dict[str, Any]) -> bool:
    """Did a chat client ask for the usage chunk (``stream_options.include_usage``)?"""
    options = chat_request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def completion_to_sse(completion: dict[str, Any], *, include_usage: bool) -> bytes:
    return b"".join(encode_event(json.dumps(c)) for c in completion_chunks(completion, include_usage)) + (
        b"data: [DONE]\n\n"
    )


def completion_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    base = {
        "id": completion.get("id", "chatcmpl-proxyd"),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    if "system_fingerprint" in completion:
        base["system_fingerprint"] = completion["system_fingerprint"]
    chunks = []
    for position, choice in enumerate(completion.get("choices") or []):
        index = choice.get("index", position)
        chunks.append({**base, "choices": [{"index": index, "delta": _delta(choice), "finish_reason": None}]})
        finish = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}
        chunks.append({**base, "choices": [finish]})
    if include_usage and completion.get("usage") is not None:
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return chunks


def _delta(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message") or {}
    delta: dict[str, Any] = {"role": message.get("role") or "assistant"}
    for name in _PASSED_MESSAGE_FIELDS:
        if message.get(name) is not None:
            delta[name] = message[name]
    calls = message.get("tool_calls")
    if calls:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
    return delta
