"""Pivot stream items as the Anthropic stream Claude Code and the anthropic SDK expect (pure).

``message_start`` (sent before the upstream answers), then per content block in index order
``content_block_start`` → its deltas → ``content_block_stop``, one block open at a time, then
``message_delta`` (``stop_reason``, cumulative usage) and ``message_stop``; every frame's
``event:`` name equals its ``type``. Thinking blocks carry a ``signature``; a tool's input
arrives only through ``input_json_delta`` (Claude Code ignores ``input`` in the block start);
no text block is empty; ``stop_reason: tool_use`` only when a tool block was sent; an error ends
the stream as ``event: error``.

Its phases are the pivot stream's grammar (:data:`proxyd.wires.pivot.MOVES`), every input
through that table.

Parallel tool calls from a chat provider interleave by index, but only one Anthropic block may
be open: the first call streams as it comes, later ones are kept and sent whole (start, one
``input_json_delta``, stop) when the tool group closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxyd.sse import json_event
from proxyd.wires.anthropic.answers import FROM_FINISH, error_type, usage_from_chat
from proxyd.wires.pivot import END, MOVES, Item, Malformed, Phase
from proxyd.wires.think import ThinkSplitter

Body = dict[str, Any]


@dataclass
class _Tool:
    call_id: str
    name: str = ""
    arguments: list[str] = field(default_factory=list)  # pieces: += on an attribute is quadratic
    block: int = -1  # the content block index once opened


@dataclass
class _State:
    open: str = ""  # "", "thinking", "text" or "tool"
    blocks: int = 0
    tools: dict[int, _Tool] = field(default_factory=dict)
    live_tool: int | None = None  # the chat index of the tool call streaming now
    sent_tool: bool = False
    finish: str | None = None
    usage: object = None


class AnthropicEncoder:
    def __init__(self, *, message_id: str, model: str) -> None:
        self.phase = Phase.START
        self._id, self._model = message_id, model
        self._s = _State()
        self._think = ThinkSplitter()
        self._out: list[bytes] = []
        self.answer = None  # Anthropic clients keep no stored turns

    @property
    def ended(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def usage(self) -> object:
        return self._s.usage

    def start(self) -> bytes:
        self._begin()
        return self._take()

    def feed(self, items: list[Item]) -> bytes:
        for item in items:
            if self.phase is Phase.DONE:
                break
            self._begin()
            self._input(item)
        return self._take()

    def finish(self) -> bytes:
        if self.phase is not Phase.DONE:
            self._begin()
            if self.phase is Phase.FINISHING:
                self._complete()
            else:
                self._fail("the provider ended the stream before the answer was finished", "api_error")
        return self._take()

    def fail(self, message: str, code: str = "api_error") -> bytes:
        if self.phase is not Phase.DONE:
            self._begin()
            self._fail(message, "api_error")
        return self._take()

    # --- phase ---------------------------------------------------------------------------------

    def _move(self, step: str) -> None:
        self.phase = MOVES[(self.phase, step)]

    def _begin(self) -> None:
        if self.phase is Phase.START:
            self._move("begin")
            message: Body = {
                "id": self._id, "type": "message", "role": "assistant", "content": [], "model": self._model,
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0},
            }  # fmt: skip
            self._emit("message_start", message=message)

    def _input(self, item: Item) -> None:
        if item is END:
            self._complete()
        elif isinstance(item, Malformed):
            self._fail(f"the provider sent a chunk that is not JSON: {item.data[:80]!r}", "api_error")
        elif not isinstance(item, dict):
            self._fail("the provider sent a chunk that is not a JSON object", "api_error")
        elif "error" in item:
            err = item["error"] if isinstance(item["error"], dict) else {"message": str(item["error"])}
            self._fail(str(err.get("message") or "the provider reported an error"), "api_error")
        else:
            self._chunk(item)

    def _chunk(self, chunk: Body) -> None:
        if isinstance(chunk.get("usage"), dict):
            self._move("usage")
            self._s.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict) and delta:
                self._move("delta")
                self._delta(delta)
            if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
                self._s.finish = choice["finish_reason"]
                self._move("finish_reason")

    def _delta(self, delta: Body) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._thinking(reasoning)
        signature = delta.get("reasoning_signature")
        if isinstance(signature, str) and signature and self._s.open == "thinking":
            self._block_delta({"type": "signature_delta", "signature": signature})
        content = delta.get("content")
        if isinstance(content, str) and content:
            for kind, piece in self._think.feed(content):
                self._thinking(piece) if kind == "reasoning" else self._text(piece)
        for position, call in enumerate(delta.get("tool_calls") or []):
            if isinstance(call, dict):
                self._tool(call, position)

    # --- blocks ---------------------------------------------------------------------------------

    def _open(self, kind: str, block: Body) -> None:
        if self._s.open:
            self._close()
        self._s.open = kind
        self._emit("content_block_start", index=self._s.blocks, content_block=block)

    def _close(self) -> None:
        if self._s.open:
            self._emit("content_block_stop", index=self._s.blocks)
            self._s.blocks += 1
            closed, self._s.open = self._s.open, ""
            if closed == "tool":
                self._s.live_tool = None
        if self._s.live_tool is None and not self._s.open:
            self._send_kept_tools()

    def _block_delta(self, delta: Body) -> None:
        self._emit("content_block_delta", index=self._s.blocks, delta=delta)

    def _thinking(self, text: str) -> None:
        if self._s.open != "thinking":
            self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        self._block_delta({"type": "thinking_delta", "thinking": text})

    def _text(self, text: str) -> None:
        if not text:
            return
        if self._s.open != "text":
            self._open("text", {"type": "text", "text": ""})
        self._block_delta({"type": "text_delta", "text": text})

    def _tool(self, raw: Body, position: int) -> None:
        index = raw.get("index", position)
        fn: Body = raw["function"] if isinstance(raw.get("function"), dict) else {}
        tool = self._s.tools.get(index)
        if tool is None:
            tool = self._s.tools[index] = _Tool(
                str(raw.get("id") or f"toolu_{self._id.removeprefix('msg_')}{index:02d}")
            )
        if not tool.name and isinstance(fn.get("name"), str):
            tool.name = fn["name"]
        arguments: str = fn["arguments"] if isinstance(fn.get("arguments"), str) else ""
        tool.arguments.append(arguments)
        if self._s.live_tool is None and tool.block < 0 and tool.name:
            self._s.live_tool = index
            self._open("tool", {"type": "tool_use", "id": tool.call_id, "name": tool.name, "input": {}})
            tool.block = self._s.blocks
            self._s.sent_tool = True
            arguments = "".join(tool.arguments)  # all that came before the name, at once
        if index == self._s.live_tool and arguments:
            self._block_delta({"type": "input_json_delta", "partial_json": arguments})

    def _send_kept_tools(self) -> None:
        for tool in [t for t in self._s.tools.values() if t.block < 0 and t.name]:
            self._s.open = "tool"
            tool.block = self._s.blocks
            self._emit(
                "content_block_start",
                index=tool.block,
                content_block={"type": "tool_use", "id": tool.call_id, "name": tool.name, "input": {}},
            )
            arguments = "".join(tool.arguments)
            if arguments:
                self._block_delta({"type": "input_json_delta", "partial_json": arguments})
            self._emit("content_block_stop", index=tool.block)
            self._s.blocks += 1
            self._s.open = ""
            self._s.sent_tool = True

    # --- endings --------------------------------------------------------------------------------

    def _complete(self) -> None:
        for kind, piece in self._think.flush():
            self._thinking(piece) if kind == "reasoning" else self._text(piece)
        self._close()  # and with it the parallel calls kept back
        self._move("end")
        stop = FROM_FINISH.get(self._s.finish or "stop", "end_turn")
        if stop == "tool_use" and not self._s.sent_tool:
            stop = "end_turn"  # a tool_use stop without a tool block stalls clients
        usage = usage_from_chat(self._s.usage)
        self._emit("message_delta", delta={"stop_reason": stop, "stop_sequence": None}, usage=usage)
        self._emit("message_stop")

    def _fail(self, message: str, kind: str) -> None:
        self._move("fail")
        self._out.append(json_event({"type": "error", "error": {"type": kind, "message": message}}, "error"))

    # --- plumbing -------------------------------------------------------------------------------

    def _emit(self, kind: str, **fields: Any) -> None:
        self._out.append(json_event({"type": kind, **fields}, kind))

    def _take(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out


def error_event(message: str, status: int) -> bytes:
    return json_event({"type": "error", "error": {"type": error_type(status), "message": message}}, "error")
