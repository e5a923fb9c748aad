"""Pivot stream items as the Gemini stream Gemini CLI and the google-genai SDK expect (pure).

``streamGenerateContent?alt=sse``: ``data:`` lines of ``GenerateContentResponse`` chunks, no
event names and no ``[DONE]``. Text and thought summaries go out as they come, each chunk a part
with the new text; a function call goes out whole in one chunk (Gemini never splits arguments),
so a call's pieces are kept until the answer finishes (parallel calls may interleave by index:
a piece of the first can follow the start of the second). The last chunk
carries ``finishReason`` and ``usageMetadata`` (chat servers send usage after the finish
reason, so it goes out at the end). A stream that fails ends with Google's error object and no
``finishReason``: Gemini CLI takes a stream without one as failed, never as an answer.

Its phases are the pivot stream's grammar (:data:`proxyd.wires.pivot.MOVES`), every input
through that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxyd.sse import json_event
from proxyd.wires.gemini.answers import error_object, finish_reason, function_call, response
from proxyd.wires.pivot import END, MOVES, Item, Malformed, Phase

Body = dict[str, Any]


@dataclass
class _Call:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class GeminiEncoder:
    def __init__(self, *, response_id: str, model: str, thoughts: bool) -> None:
        self.phase = Phase.START
        self._id, self._model, self._thoughts = response_id, model, thoughts
        self._calls: dict[int, _Call] = {}
        self._finish: str | None = None
        self._usage: object = None
        self._out: list[bytes] = []
        self.answer = None  # Gemini clients keep no stored turns

    @property
    def ended(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def usage(self) -> object:
        return self._usage

    def start(self) -> bytes:
        return b""  # Gemini's stream has no opening event: its first chunk carries content

    def feed(self, items: list[Item]) -> bytes:
        for item in items:
            if self.phase is Phase.DONE:
                break
            if self.phase is Phase.START:
                self._move("begin")
            self._input(item)
        return self._take()

    def finish(self) -> bytes:
        if self.phase is Phase.START:
            self._move("begin")
        if self.phase is Phase.FINISHING:
            self._complete()
        elif self.phase is Phase.STREAMING:
            self._fail("the provider ended the stream before the answer was finished", 502)
        return self._take()

    def fail(self, message: str, code: str = "upstream_error") -> bytes:
        if self.phase is Phase.START:
            self._move("begin")
        if self.phase is not Phase.DONE:
            self._fail(message, 502)
        return self._take()

    def _move(self, step: str) -> None:
        self.phase = MOVES[(self.phase, step)]

    def _input(self, item: Item) -> None:
        if item is END:  # the provider's own end marker: complete, with STOP when it named no reason
            self._complete()
        elif isinstance(item, Malformed):
            self._fail(f"the provider sent a chunk that is not JSON: {item.data[:80]!r}", 502)
        elif not isinstance(item, dict):
            self._fail("the provider sent a chunk that is not a JSON object", 502)
        elif "error" in item:
            err = item["error"] if isinstance(item["error"], dict) else {"message": str(item["error"])}
            self._fail(str(err.get("message") or "the provider reported an error"), 502)
        else:
            self._chunk(item)

    def _chunk(self, chunk: Body) -> None:
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
            self._move("usage")
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # one candidate
            delta = choice.get("delta") or {}
            self._move("delta")
            self._delta(delta if isinstance(delta, dict) else {})
            if choice.get("finish_reason"):
                self._finish = finish_reason(choice["finish_reason"])
                self._move("finish_reason")

    def _delta(self, delta: Body) -> None:
        parts: list[Body] = []
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thought, str) and thought and self._thoughts:
            parts.append({"text": thought, "thought": True})
        if isinstance(delta.get("content"), str) and delta["content"]:
            parts.append({"text": delta["content"]})
        if parts:
            self._send(parts)
        for piece in delta.get("tool_calls") or []:
            if isinstance(piece, dict):
                self._call_piece(piece)

    def _call_piece(self, piece: Body) -> None:
        index = piece.get("index", 0)
        call = self._calls.setdefault(index, _Call())
        call.call_id = call.call_id or str(piece.get("id") or "")
        function = piece.get("function") or {}
        call.name = call.name or str(function.get("name") or "")
        if isinstance(function.get("arguments"), str):
            call.arguments.append(function["arguments"])

    def _flush_calls(self) -> None:
        parts = [function_call(c.call_id or f"{c.name}_{i}", c.name, "".join(c.arguments))
                 for i, c in sorted(self._calls.items()) if c.name]  # fmt: skip
        self._calls = {i: c for i, c in self._calls.items() if not c.name}
        if parts:
            self._send(parts)

    def _complete(self) -> None:
        self._flush_calls()
        self._emit(response([], self._finish or "STOP", self._usage or {}, model=self._model, response_id=self._id))
        self._move("end")

    def _fail(self, message: str, status: int) -> None:
        self._emit(error_object(message, status))
        self._move("fail")

    def _send(self, parts: list[Body]) -> None:
        self._emit(response(parts, None, None, model=self._model, response_id=self._id))

    def _emit(self, body: Body) -> None:
        self._out.append(json_event(body))

    def _take(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out
