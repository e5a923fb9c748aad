"""Streams made from whole answers (pure): a chat chunk sequence from one chat completion, and
Responses events from one Response object.

For providers (or models) that do not stream, configured with ``streaming: false`` because their
streaming is broken or missing: proxyd asks for a plain answer and replays it as the events a
streaming client expects, ending with ``data: [DONE]``. A Response's items keep their ids and
fields; each is opened, filled in one delta, and closed, as the OpenAI stream would.
"""

from __future__ import annotations

import json
from typing import Any

from proxyd.sse import encode_event
from proxyd.wires.pivot import DONE

_PASSED_MESSAGE_FIELDS = ("content", "refusal", "reasoning_content", "reasoning")


def wants_usage(chat_request: dict[str, Any]) -> bool:
    """Did a chat client ask for the usage chunk (``stream_options.include_usage``)?"""
    options = chat_request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def completion_to_sse(completion: dict[str, Any], *, include_usage: bool) -> bytes:
    return b"".join(encode_event(json.dumps(c)) for c in completion_chunks(completion, include_usage)) + DONE


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


_TERMINAL = {"incomplete": "response.incomplete", "failed": "response.failed"}


def response_to_sse(response: dict[str, Any]) -> bytes:
    """The Responses event stream of one finished ``response`` object."""
    out = _Events()
    opening = {**response, "status": "in_progress", "output": [], "usage": None}
    out.add("response.created", response=opening)
    out.add("response.in_progress", response=opening)
    for index, item in enumerate(response.get("output") or []):
        if isinstance(item, dict):
            _item_events(out, index, item)
    out.add(_TERMINAL.get(str(response.get("status")), "response.completed"), response=response)
    return b"".join(out.events) + DONE


class _Events:
    def __init__(self) -> None:
        self.events: list[bytes] = []

    def add(self, kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(self.events), **fields}
        self.events.append(encode_event(json.dumps(data), kind))


def _item_events(out: _Events, index: int, item: dict[str, Any]) -> None:
    kind, item_id = item.get("type"), item.get("id")
    at = {"item_id": item_id, "output_index": index}
    if kind == "message":
        out.add("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
        for position, part in enumerate(item.get("content") or []):
            if isinstance(part, dict):
                _part_events(out, {**at, "content_index": position}, part)
    elif kind == "function_call":
        opened = {**item, "status": "in_progress", "arguments": ""}
        out.add("response.output_item.added", output_index=index, item=opened)
        arguments = str(item.get("arguments") or "")
        out.add("response.function_call_arguments.delta", **at, delta=arguments)
        out.add("response.function_call_arguments.done", **at, name=item.get("name"), arguments=arguments)
    elif kind == "reasoning":
        out.add("response.output_item.added", output_index=index, item={**item, "summary": [], "content": []})
        _reasoning_events(out, at, item)
    else:  # built-in tool calls and the like: opened and closed whole
        out.add("response.output_item.added", output_index=index, item=item)
    out.add("response.output_item.done", output_index=index, item=item)


def _part_events(out: _Events, at: dict[str, Any], part: dict[str, Any]) -> None:
    if part.get("type") == "refusal":
        text = str(part.get("refusal") or "")
        out.add("response.content_part.added", **at, part={**part, "refusal": ""})
        out.add("response.refusal.delta", **at, delta=text)
        out.add("response.refusal.done", **at, refusal=text)
    else:
        text = str(part.get("text") or "")
        out.add("response.content_part.added", **at, part={**part, "text": "", "annotations": []})
        out.add("response.output_text.delta", **at, delta=text, logprobs=[])
        out.add("response.output_text.done", **at, text=text, logprobs=[])
    out.add("response.content_part.done", **at, part=part)


def _reasoning_events(out: _Events, at: dict[str, Any], item: dict[str, Any]) -> None:
    for position, part in enumerate(item.get("summary") or []):
        text = str(part.get("text") or "") if isinstance(part, dict) else ""
        where = {**at, "summary_index": position}
        out.add("response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""})
        out.add("response.reasoning_summary_text.delta", **where, delta=text)
        out.add("response.reasoning_summary_text.done", **where, text=text)
        out.add("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text})
    for position, part in enumerate(item.get("content") or []):
        text = str(part.get("text") or "") if isinstance(part, dict) else ""
        where = {**at, "content_index": position}
        out.add("response.reasoning_text.delta", **where, delta=text)
        out.add("response.reasoning_text.done", **where, text=text)
