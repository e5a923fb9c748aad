"""A Responses answer as a Chat Completions answer (pure), for chat clients of
``wire: responses`` providers.

:class:`ChatChunkEncoder` takes the bytes of a Responses stream and gives the bytes of a chat
completion stream: text deltas become ``content``, reasoning deltas ``reasoning_content``,
each ``function_call`` item a ``tool_calls`` entry with its own index; the terminal event
becomes the finish chunk (and a usage chunk when the client asked), then ``data: [DONE]``. A
failed or cut stream ends with an ``error`` data line and no ``[DONE]``.
:func:`response_to_completion` does the same for a JSON response.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from proxyd.sse import SSEDecoder, encode_event

_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


class Phase(enum.Enum):
    STREAMING = "streaming"
    DONE = "done"


class ChatChunkEncoder:
    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        self.phase = Phase.STREAMING
        self._base: dict[str, Any] = {
            "id": "chatcmpl-proxyd",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        self._include_usage = include_usage
        self._decoder = SSEDecoder()
        self._tools: dict[str, int] = {}  # item id -> tool_calls index
        self.usage: object = None  # the provider's usage, once the response ended

    @property
    def ended(self) -> bool:
        """The Responses stream is over (its terminal event or an error): nothing more is read."""
        return self.phase is Phase.DONE

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._event(e.data) for e in self._decoder.feed(chunk) if self.phase is Phase.STREAMING)

    def finish(self) -> bytes:
        tail = b"".join(self._event(e.data) for e in self._decoder.flush())
        if self.phase is Phase.STREAMING:
            tail += self.fail("the provider ended the stream before the answer was finished")
        return tail

    def fail(self, message: str, code: str = "upstream_error") -> bytes:
        if self.phase is Phase.DONE:
            return b""
        self.phase = Phase.DONE
        error = {"message": message, "type": "upstream_error", "code": code, "param": None}
        return encode_event(json.dumps({"error": error}))

    def _event(self, data: str) -> bytes:
        try:
            event = json.loads(data)
        except ValueError:
            return b"" if data.strip() == "[DONE]" else self.fail("the provider sent an event that is not JSON")
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "response.created":
            response = event.get("response") or {}
            self._base["id"] = f"chatcmpl-{str(response.get('id', 'proxyd')).removeprefix('resp_')}"
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "response.output_text.delta":
            return self._chunk({"content": str(event.get("delta", ""))})
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self._chunk({"reasoning_content": str(event.get("delta", ""))})
        if kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self._tools[str(item.get("id"))] = len(self._tools)
            call = {
                "index": index,
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]})
        if kind == "response.function_call_arguments.delta" and str(event.get("item_id")) in self._tools:
            call = {"index": self._tools[str(event["item_id"])], "function": {"arguments": str(event.get("delta", ""))}}
            return self._chunk({"tool_calls": [call]})
        if kind in ("response.completed", "response.incomplete"):
            return self._end(event.get("response") or {})
        if kind in ("response.failed", "error"):
            err = (event.get("response") or {}).get("error") or event
            return self.fail(
                f"provider error: {err.get('message') or 'the response failed'}",
                str(err.get("code") or "upstream_error"),
            )
        return b""

    def _end(self, response: dict[str, Any]) -> bytes:
        self.phase = Phase.DONE
        self.usage = response.get("usage")
        finish = finish_reason(response, bool(self._tools))
        out = self._chunk({}, finish)
        if self._include_usage:
            out += encode_event(json.dumps({**self._base, "choices": [], "usage": chat_usage(response.get("usage"))}))
        return out + b"data: [DONE]\n\n"

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return encode_event(
            json.dumps({**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )


def response_to_completion(response: dict[str, Any], model: str) -> dict[str, Any]:
    text, reasoning, calls = "", "", []
    for item in response.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            text += "".join(p.get("text", "") for p in item.get("content") or [] if p.get("type") == "output_text")
        elif kind == "reasoning":
            reasoning += "".join(p.get("text", "") for p in (item.get("summary") or []) + (item.get("content") or []))
        elif kind == "function_call":
            fn = {"name": item.get("name"), "arguments": item.get("arguments", "")}
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


def finish_reason(response: dict[str, Any], called_tools: bool) -> str:
    details = response.get("incomplete_details") or {}
    if response.get("status") == "incomplete":
        return _FINISH.get(str(details.get("reason")), "length")
    return "tool_calls" if called_tools else "stop"


def chat_usage(usage: object) -> dict[str, Any]:
    u = usage if isinstance(usage, dict) else {}
    prompt, completion = int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0)
    cached = (u.get("input_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(u.get("total_tokens") or prompt + completion),
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
