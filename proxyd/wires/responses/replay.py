"""A whole Response as the Responses event stream a streaming client expects (pure).

For providers (or models) that do not stream, configured with ``streaming: false``: proxyd asks
for a plain answer and replays it. Its items keep their ids and fields; each is opened, filled in
one delta, and closed, as the OpenAI stream would, and the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

from typing import Any

from proxyd.sse import json_event
from proxyd.wires.pivot import DONE

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
        self.events.append(json_event(data, kind))


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
