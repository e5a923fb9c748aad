"""An Anthropic provider's stream as pivot items (pure).

One handler per event type (a table). Text deltas become ``content``, thinking deltas
``reasoning_content`` and signature deltas ``reasoning_signature`` (a pivot extension, so the
signature survives to a client that can carry it); each ``tool_use`` block becomes a
``tool_calls`` entry with its own index, its arguments only from ``input_json_delta``.
``message_delta`` gives the finish chunk and the usage chunk, ``message_stop`` the end; an
``error`` event or a cut stream ends with an error item; ``ping`` makes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxyd import jsoncodec
from proxyd.wires.anthropic.answers import TO_FINISH, usage_to_chat
from proxyd.wires.pivot import END, EventDecoder, Item

Body = dict[str, Any]


class AnthropicDecoder(EventDecoder):
    __slots__ = ("_base", "_blocks", "_tools", "_usage", "usage")

    def __init__(self, *, model: str, created: int) -> None:
        super().__init__()
        self._base: Body = {
            "id": "chatcmpl-proxyd",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        self._blocks: dict[int, str] = {}  # content block index -> its type
        self._tools: dict[int, int] = {}  # content block index -> tool_calls index
        self._usage: Body = {}
        self.usage: object = None  # the provider's usage (chat shape), once the message ended

    def _event(self, data: str) -> list[Item]:
        try:
            event = jsoncodec.loads(data)
        except ValueError:
            return self._error("the provider sent an event that is not JSON")
        kind = event.get("type") if isinstance(event, dict) else None
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        return handler(self, event) if handler is not None else []

    def _start(self, event: Body) -> list[Item]:
        message = event.get("message") or {}
        self._base["id"] = f"chatcmpl-{str(message.get('id') or 'proxyd').removeprefix('msg_')}"
        self._usage = dict(message.get("usage") or {})
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, event: Body) -> list[Item]:
        index, block = event.get("index"), event.get("content_block") or {}
        if not isinstance(index, int):
            return []
        kind = str(block.get("type"))
        self._blocks[index] = kind
        if kind != "tool_use":
            return []
        position = self._tools[index] = len(self._tools)
        call = {"index": position, "id": block.get("id"), "type": "function",
                "function": {"name": block.get("name"), "arguments": ""}}  # fmt: skip
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, event: Body) -> list[Item]:
        delta, index = event.get("delta") or {}, event.get("index")
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": str(delta.get("text") or "")})]
        if kind == "thinking_delta":
            return [self._chunk({"reasoning_content": str(delta.get("thinking") or "")})]
        if kind == "signature_delta":
            return [self._chunk({"reasoning_signature": str(delta.get("signature") or "")})]
        if kind == "input_json_delta" and index in self._tools:
            call = {"index": self._tools[index], "function": {"arguments": str(delta.get("partial_json") or "")}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _message_delta(self, event: Body) -> list[Item]:
        self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        reason = (event.get("delta") or {}).get("stop_reason")
        finish = TO_FINISH.get(str(reason), "stop")
        if finish == "tool_calls" and not self._tools:
            finish = "stop"
        return [self._chunk({}, finish)]

    def _stop(self, event: Body) -> list[Item]:
        self.ended = True
        self.usage = usage_to_chat(self._usage)
        return [{**self._base, "choices": [], "usage": self.usage}, END]

    def _failed(self, event: Body) -> list[Item]:
        err = event.get("error") or {}
        message = err.get("message") if isinstance(err, dict) else None
        code = err.get("type") if isinstance(err, dict) else None
        return self._error(f"provider error: {message or 'the stream failed'}", str(code or "upstream_error"))

    def _chunk(self, delta: Body, finish: str | None = None) -> Body:
        return {**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


_HANDLERS: dict[str, Callable[[AnthropicDecoder, Body], list[Item]]] = {
    "message_start": AnthropicDecoder._start,
    "content_block_start": AnthropicDecoder._block_start,
    "content_block_delta": AnthropicDecoder._delta,
    "message_delta": AnthropicDecoder._message_delta,
    "message_stop": AnthropicDecoder._stop,
    "error": AnthropicDecoder._failed,
}
# The events that end a stream: its stream check's terminal set, read off this table.
ENDING = frozenset(
    kind for kind, step in _HANDLERS.items() if step in (AnthropicDecoder._stop, AnthropicDecoder._failed)
)
