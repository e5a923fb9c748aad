"""A Responses answer in the pivot's form (pure), for clients of ``wire: responses`` providers.

:class:`ResponsesDecoder` takes the bytes of a Responses stream and gives pivot stream items:
text deltas become ``content``, reasoning deltas ``reasoning_content``, each ``function_call``
item a ``tool_calls`` entry with its own index; the terminal event becomes the finish chunk and
a usage chunk, then ``END``. A failed or cut stream ends with an error item.
:func:`response_to_completion` does the same for a JSON response.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from proxyd import jsoncodec
from proxyd.wires.pivot import END, EventDecoder, Item
from proxyd.wires.responses.tools import flat_name
from proxyd.wires.turn import ToolName

_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


class ResponsesDecoder(EventDecoder):
    """A Responses stream's bytes as pivot items (chat chunks), for chat clients of ``wire:
    responses`` providers. One handler per event type (a table); events it does not need
    (item and part bookkeeping) make nothing."""

    __slots__ = ("_base", "_names", "_tools", "usage")

    def __init__(self, *, model: str, created: int, names: Mapping[str, ToolName] | None = None) -> None:
        super().__init__()
        self._base: dict[str, Any] = {
            "id": "chatcmpl-proxyd",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        self._tools: dict[str, int] = {}  # item id -> tool_calls index
        self._names = pivot_names(names)
        self.usage: object = None  # the provider's usage, once the response ended

    def _event(self, data: str) -> list[Item]:
        try:
            event = jsoncodec.loads(data)
        except ValueError:
            if data.strip() == "[DONE]":
                return []
            return self._error("the provider sent an event that is not JSON", "upstream_error")
        kind = event.get("type") if isinstance(event, dict) else None
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        return handler(self, event) if handler is not None else []

    def _created(self, event: dict[str, Any]) -> list[Item]:
        response = event.get("response") or {}
        self._base["id"] = f"chatcmpl-{str(response.get('id', 'proxyd')).removeprefix('resp_')}"
        return [self._chunk({"role": "assistant", "content": ""})]

    def _text(self, event: dict[str, Any]) -> list[Item]:
        return [self._chunk({"content": str(event.get("delta", ""))})]

    def _reasoning(self, event: dict[str, Any]) -> list[Item]:
        return [self._chunk({"reasoning_content": str(event.get("delta", ""))})]

    def _item_added(self, event: dict[str, Any]) -> list[Item]:
        item = event.get("item") or {}
        kind = item.get("type")
        if kind not in ("function_call", "custom_tool_call"):
            return []
        index = self._tools[str(item.get("id"))] = len(self._tools)
        # A custom tool's free text crosses as the pivot's {"input": ...} arguments, built as it streams.
        fn = {"name": pivot_name(item, self._names), "arguments": '{"input": "' if kind == "custom_tool_call" else ""}
        return [
            self._chunk(
                {"tool_calls": [{"index": index, "id": item.get("call_id"), "type": "function", "function": fn}]}
            )
        ]

    def _arguments(self, event: dict[str, Any]) -> list[Item]:
        index = self._tools.get(str(event.get("item_id")))
        if index is None:
            return []
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": str(event.get("delta", ""))}}]})]

    def _custom_input(self, event: dict[str, Any]) -> list[Item]:
        index = self._tools.get(str(event.get("item_id")))
        if index is None:
            return []
        escaped = json.dumps(str(event.get("delta", "")))[1:-1]
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": escaped}}]})]

    def _custom_done(self, event: dict[str, Any]) -> list[Item]:
        index = self._tools.get(str(event.get("item_id")))
        if index is None:
            return []
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": '"}'}}]})]

    def _end(self, event: dict[str, Any]) -> list[Item]:
        response = event.get("response") or {}
        self.ended = True
        self.usage = response.get("usage")
        finish = self._chunk({}, finish_reason(response, bool(self._tools)))
        return [finish, {**self._base, "choices": [], "usage": chat_usage(response.get("usage"))}, END]

    def _failed(self, event: dict[str, Any]) -> list[Item]:
        err = (event.get("response") or {}).get("error") or event
        message = f"provider error: {err.get('message') or 'the response failed'}"
        return self._error(message, str(err.get("code") or "upstream_error"))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


_HANDLERS: dict[str, Callable[[ResponsesDecoder, dict[str, Any]], list[Item]]] = {
    "response.created": ResponsesDecoder._created,
    "response.output_text.delta": ResponsesDecoder._text,
    "response.reasoning_summary_text.delta": ResponsesDecoder._reasoning,
    "response.reasoning_text.delta": ResponsesDecoder._reasoning,
    "response.output_item.added": ResponsesDecoder._item_added,
    "response.function_call_arguments.delta": ResponsesDecoder._arguments,
    "response.custom_tool_call_input.delta": ResponsesDecoder._custom_input,
    "response.custom_tool_call_input.done": ResponsesDecoder._custom_done,
    "response.completed": ResponsesDecoder._end,
    "response.incomplete": ResponsesDecoder._end,
    "response.failed": ResponsesDecoder._failed,
    "error": ResponsesDecoder._failed,
}
# The events that end a stream: its stream check's terminal set, read off this table.
_ENDS = (ResponsesDecoder._end, ResponsesDecoder._failed)
ENDING = frozenset(kind for kind, step in _HANDLERS.items() if step in _ENDS)


def response_to_completion(
    response: dict[str, Any], model: str, names: Mapping[str, ToolName] | None = None
) -> dict[str, Any]:
    text, reasoning, calls, known = "", "", [], pivot_names(names)
    for item in response.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            text += "".join(p.get("text", "") for p in item.get("content") or [] if p.get("type") == "output_text")
        elif kind == "reasoning":
            reasoning += "".join(p.get("text", "") for p in (item.get("summary") or []) + (item.get("content") or []))
        elif kind == "function_call":
            fn = {"name": pivot_name(item, known), "arguments": item.get("arguments", "")}
            calls.append({"id": item.get("call_id"), "type": "function", "function": fn})
        elif kind == "custom_tool_call":
            fn = {"name": pivot_name(item, known), "arguments": json.dumps({"input": str(item.get("input", ""))})}
            calls.append({"id": item.get("call_id"), "type": "function", "function": fn})
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{str(response.get('id', 'proxyd')).removeprefix('resp_')}",
        "object": "chat.completion",
        "created": int(response.get("created_at") or 0),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(response, bool(calls))}],
        "usage": chat_usage(response.get("usage")),
    }


Names = dict[tuple[str, str | None], str]


def pivot_names(names: Mapping[str, ToolName] | None) -> Names:
    """(Responses name, namespace) -> the pivot's name, from a request's tools."""
    return {(tool.name, tool.namespace): chat for chat, tool in (names or {}).items()}


def pivot_name(item: dict[str, Any], known: Names) -> str:
    """A call's tool as the pivot names it: as the request's tools were named, else a namespace's
    member flattened the same way."""
    name, namespace = str(item.get("name") or ""), item.get("namespace")
    space = namespace if isinstance(namespace, str) and namespace else None
    return known.get((name, space)) or (flat_name(name, space) if space else name)


def finish_reason(response: dict[str, Any], called_tools: bool) -> str:
    details = response.get("incomplete_details") or {}
    if response.get("status") == "incomplete":
        return _FINISH.get(str(details.get("reason")), "length")
    return "tool_calls" if called_tools else "stop"


def chat_usage(usage: object) -> dict[str, Any]:
    u = usage if isinstance(usage, dict) else {}
    prompt, completion = int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0)
    details = u.get("input_tokens_details") or {}
    cached, written = details.get("cached_tokens") or 0, details.get("cache_write_tokens") or 0
    reasoning = (u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(u.get("total_tokens") or prompt + completion),
        "prompt_tokens_details": {"cached_tokens": cached, **({"cache_write_tokens": written} if written else {})},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
