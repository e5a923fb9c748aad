"""Chat completion chunks to Responses stream events: an explicit state machine (pure).

:meth:`~ChatToResponsesStream.step` takes one pivot stream item (:mod:`proxyd.wires.pivot`: a
chat chunk, an error, ``END``), :meth:`~ChatToResponsesStream.end_step` is called when the
upstream closes, :meth:`~ChatToResponsesStream.fail_step` when it breaks; each returns the
Responses events to send, numbered by ``sequence_number``. The terminal event
(``response.completed``, ``.incomplete`` or ``.failed``) is an output of its own,
:attr:`~ChatToResponsesStream.terminal`, so an encoder can hold it back until the response is
stored. ``feed``/``finish``/``fail`` give whole transcripts, terminal included. The machine never
raises: malformed input ends the response with ``response.failed``.

Its phases are the pivot stream's grammar, one table of legal moves that every input goes
through, deltas included (:data:`proxyd.wires.pivot.MOVES`; ``end`` only after ``[DONE]``, or at
the upstream's close once a ``finish_reason`` came).

Within STREAMING one kind of output is open at a time: reasoning, a text message, or a group
of tool calls (parallel calls interleave by their chat ``index``). Opening a kind closes the
open one, so ``output_index`` counts up in the order items are added, as strict clients check.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxyd.wires.pivot import END, MOVES, Item, Malformed, Phase, parse
from proxyd.wires.responses.response import SIGNED, failure_of, new_response, usage_from_chat
from proxyd.wires.responses.tools import custom_input
from proxyd.wires.think import ThinkSplitter
from proxyd.wires.turn import ToolName

Event = dict[str, Any]
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class Open(enum.Enum):
    NONE = "none"
    REASONING = "reasoning"
    TEXT = "text"
    TOOLS = "tools"


@dataclass
class _Call:
    call_id: str
    item_id: str = ""  # assigned with output_index, once the name tells function from custom
    chat_name: str = ""
    # Pieces, joined when read: += on an attribute copies the whole string each time (CPython
    # concatenates in place only into locals), which is quadratic over a long answer.
    arguments: list[str] = field(default_factory=list)
    output_index: int = -1  # assigned when the item is added (once its name is known)


class ChatToResponsesStream:
    def __init__(
        self,
        request: dict[str, Any],
        *,
        response_id: str,
        tool_names: Mapping[str, ToolName],
        created_at: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        created = int(clock()) if created_at is None else created_at
        self.response = new_response(request, response_id, created, str(request.get("model") or ""))
        self.phase = Phase.START
        self._tool_names = tool_names
        self._seq = 0
        self._ids = 0
        self._open = Open.NONE
        self._events: list[Event] = []
        self._output: list[dict[str, Any]] = []
        self._item: dict[str, Any] = {}  # the open reasoning or message item
        self._text: list[str] = []  # pieces, as _Call.arguments
        self._calls: dict[int, _Call] = {}
        self._think = ThinkSplitter()
        self._finish: str | None = None
        self._usage: object = None
        self._signature: list[str] = []  # of the open reasoning item (a pivot extension)
        self.terminal: Event | None = None  # the terminal event, once there is one
        self._terminal_taken = False

    # --- inputs ---------------------------------------------------------------------------------

    def start(self) -> list[Event]:
        """The opening events, before any upstream data (so the client sees life at once)."""
        self._begin()
        return self._take()

    def step(self, item: Item) -> list[Event]:
        """The events one pivot stream item makes (the terminal one is :attr:`terminal`)."""
        if self.phase is Phase.DONE:
            return []
        self._begin()
        if item is END:
            self._complete()
        else:
            self._input(item)
        return self._take()

    def end_step(self) -> list[Event]:
        """The upstream closed. Without ``[DONE]`` or a finish_reason the answer was cut short."""
        if self.phase is not Phase.DONE:
            self._begin()
            if self.phase is Phase.FINISHING:
                self._complete()
            else:
                self._fail("the provider ended the stream before the answer was finished", "server_error")
        return self._take()

    def fail_step(self, message: str, code: str = "server_error") -> list[Event]:
        if self.phase is not Phase.DONE:
            self._begin()
            self._fail(message, code)
        return self._take()

    # --- whole transcripts: the events of each input, the terminal one included once ------------

    def feed(self, data: str) -> list[Event]:
        """One SSE ``data`` payload of a chat stream (a JSON chunk or ``[DONE]``)."""
        return self._with_terminal(self.step(parse(data)))

    def finish(self) -> list[Event]:
        return self._with_terminal(self.end_step())

    def fail(self, message: str, code: str = "server_error") -> list[Event]:
        return self._with_terminal(self.fail_step(message, code))

    def _with_terminal(self, events: list[Event]) -> list[Event]:
        if self.terminal is None or self._terminal_taken:
            return events
        self._terminal_taken = True
        return [*events, self.terminal]

    # --- phase ----------------------------------------------------------------------------------

    def _move(self, step: str) -> None:
        nxt = MOVES.get((self.phase, step))
        if nxt is None:
            raise _Protocol(f"{step} is not allowed in phase {self.phase.value}")
        self.phase = nxt

    def _begin(self) -> None:  # idempotent
        if self.phase is Phase.START:
            self._move("begin")
            self._emit("response.created", response=dict(self.response))
            self._emit("response.in_progress", response=dict(self.response))

    def _input(self, item: Item) -> None:
        if isinstance(item, Malformed):
            self._fail(f"the provider sent a chunk that is not JSON: {item.data[:80]!r}", "server_error")
        elif not isinstance(item, dict):
            self._fail("the provider sent a chunk that is not a JSON object", "server_error")
        elif "error" in item:
            self._upstream_error(item["error"])
        else:
            try:
                self._deltas(item)
            except _Protocol as exc:
                self._fail(f"the provider's stream broke protocol: {exc}", "server_error")

    def _deltas(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("usage"), dict):
            self._move("usage")
            self._usage = chunk["usage"]
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n > 1 has no Responses form; the first choice is the answer
            delta = choice.get("delta")
            if isinstance(delta, dict) and delta:
                self._move("delta")
                self._delta(delta)
            finish = _str(choice.get("finish_reason"))
            if finish:
                self._finish = finish
                self._move("finish_reason")

    def _delta(self, delta: dict[str, Any]) -> None:
        if "reasoning_content" in delta or "reasoning" in delta:
            reasoning = _str(delta.get("reasoning_content")) or _str(delta.get("reasoning"))
            if reasoning:
                self._reasoning(reasoning)
        signature = delta.get("reasoning_signature")
        if isinstance(signature, str) and signature and self._open is Open.REASONING:
            self._signature.append(signature)
        content = delta.get("content")
        if isinstance(content, str) and content:
            for kind, piece in self._think.feed(content):
                self._reasoning(piece) if kind == "reasoning" else self._text_delta(piece)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for position, call in enumerate(calls):
                self._tool_delta(call, position)
        elif isinstance(delta.get("function_call"), dict):  # the legacy single-call form
            self._tool_delta({"index": 0, "function": delta["function_call"]}, 0)

    # --- output items ---------------------------------------------------------------------------

    def _switch(self, kind: Open) -> bool:
        """Make ``kind`` the open kind; True when it was already open."""
        if self._open is kind:
            return True
        self._close("completed")
        self._open = kind
        return False

    def _reasoning(self, text: str) -> None:
        if not self._switch(Open.REASONING):
            self._add_item({"id": self._id("rs"), "type": "reasoning", "summary": []})
            part = {"type": "summary_text", "text": ""}
            self._emit("response.reasoning_summary_part.added", **self._where(), summary_index=0, part=part)
        self._text.append(text)
        self._emit("response.reasoning_summary_text.delta", **self._where(), summary_index=0, delta=text)

    def _text_delta(self, text: str) -> None:
        if not text:
            return
        if not self._switch(Open.TEXT):
            item = {
                "id": self._id("msg"),
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            self._add_item(item)
            self._emit("response.content_part.added", **self._where(), content_index=0, part=_text_part(""))
        self._text.append(text)
        self._emit("response.output_text.delta", **self._where(), content_index=0, delta=text, logprobs=[])

    def _tool_delta(self, raw: object, position: int) -> None:
        if not isinstance(raw, dict):
            raise _Protocol("a tool call delta is not an object")
        self._switch(Open.TOOLS)
        index = raw.get("index", position)
        fn = _obj(raw.get("function"))
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _Call(_str(raw.get("id")) or self._id("call"))
        if not call.chat_name:  # lax servers repeat the name in every chunk: keep the first
            call.chat_name = _str(fn.get("name"))
        new_args = _str(fn.get("arguments"))
        call.arguments.append(new_args)
        if call.output_index < 0 and call.chat_name:
            self._add_call(call)
            new_args = "".join(call.arguments)
        if new_args and call.output_index >= 0 and self._tool(call).kind == "function":
            self._emit(
                "response.function_call_arguments.delta",
                item_id=call.item_id,
                output_index=call.output_index,
                delta=new_args,
            )

    def _add_call(self, call: _Call) -> None:
        call.item_id = self._id("ctc" if self._tool(call).kind == "custom" else "fc")
        call.output_index = len(self._output)
        self._output.append({})  # reserves the index; filled when the call is done
        self._emit(
            "response.output_item.added", output_index=call.output_index, item=self._call_item(call, "", "in_progress")
        )

    def _add_item(self, item: dict[str, Any]) -> None:
        self._item = item
        self._text = []
        self._output.append({})  # an open item joins the final output only once it is done
        self._emit("response.output_item.added", output_index=len(self._output) - 1, item=dict(item))

    def _close(self, status: str) -> None:
        kind, self._open = self._open, Open.NONE
        text = "".join(self._text)
        if kind is Open.REASONING:
            done = {"type": "summary_text", "text": text}
            self._emit("response.reasoning_summary_text.done", **self._where(), summary_index=0, text=text)
            self._emit("response.reasoning_summary_part.done", **self._where(), summary_index=0, part=done)
            item = {**self._item, "summary": [done]}
            if self._signature:  # an Anthropic provider's signature, kept for the next turn to send back
                item["encrypted_content"] = SIGNED + "".join(self._signature)
                self._signature = []
            self._done_item(item)
        elif kind is Open.TEXT:
            self._emit("response.output_text.done", **self._where(), content_index=0, text=text, logprobs=[])
            self._emit("response.content_part.done", **self._where(), content_index=0, part=_text_part(text))
            self._done_item({**self._item, "status": status, "content": [_text_part(text)]})
        elif kind is Open.TOOLS:
            for call in sorted(self._calls.values(), key=lambda c: c.output_index):
                self._close_call(call)
            self._calls = {}

    def _close_call(self, call: _Call) -> None:
        if call.output_index < 0:
            raise _Protocol("a tool call never got a name")
        tool, where = self._tool(call), {"item_id": call.item_id, "output_index": call.output_index}
        arguments = "".join(call.arguments)
        if tool.kind == "custom":
            text = custom_input(arguments)
            if text:
                self._emit("response.custom_tool_call_input.delta", **where, delta=text)
            self._emit("response.custom_tool_call_input.done", **where, input=text)
            item = self._call_item(call, text, "completed")
        else:
            self._emit("response.function_call_arguments.done", **where, name=tool.name, arguments=arguments)
            item = self._call_item(call, arguments, "completed")
        self._output[call.output_index] = item
        self._emit("response.output_item.done", output_index=call.output_index, item=item)

    def _done_item(self, item: dict[str, Any]) -> None:
        index = len(self._output) - 1
        self._output[index] = item
        self._emit("response.output_item.done", output_index=index, item=item)

    def _tool(self, call: _Call) -> ToolName:
        return self._tool_names.get(call.chat_name) or ToolName("function", call.chat_name)

    def _call_item(self, call: _Call, value: str, status: str) -> dict[str, Any]:
        tool = self._tool(call)
        item: dict[str, Any] = {
            "id": call.item_id,
            "type": f"{tool.kind}_call",
            "call_id": call.call_id,
            "name": tool.name,
        }
        if tool.kind == "custom":
            item["type"], item["input"] = "custom_tool_call", value
        else:
            item["type"], item["arguments"], item["status"] = "function_call", value, status
        if tool.namespace:
            item["namespace"] = tool.namespace
        return item

    # --- endings --------------------------------------------------------------------------------

    def _complete(self) -> None:
        for kind, piece in self._think.flush():
            self._reasoning(piece) if kind == "reasoning" else self._text_delta(piece)
        reason = _INCOMPLETE.get(self._finish or "")
        try:
            self._close("incomplete" if reason else "completed")
        except _Protocol as exc:
            self._fail(f"the provider's stream broke protocol: {exc}", "server_error")
            return
        self._move("end")
        self._terminal("response.incomplete" if reason else "response.completed", incomplete=reason)

    def _fail(self, message: str, code: str) -> None:
        self._move("fail")
        self._terminal("response.failed", error={"code": code, "message": message})

    def _upstream_error(self, error: object) -> None:
        self._fail(*failure_of(error))

    def _terminal(self, kind: str, *, incomplete: str | None = None, error: dict[str, str] | None = None) -> None:
        status = {"response.completed": "completed", "response.incomplete": "incomplete"}.get(kind, "failed")
        self.response = {
            **self.response,
            "status": status,
            "completed_at": int(self._clock()) if status == "completed" else None,
            "output": [item for item in self._output if item],
            "usage": usage_from_chat(self._usage),
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "error": error,
        }
        self.terminal = {"type": kind, "sequence_number": self._seq, "response": self.response}
        self._seq += 1

    # --- plumbing -------------------------------------------------------------------------------

    def _where(self) -> dict[str, Any]:
        return {"item_id": self._item["id"], "output_index": len(self._output) - 1}

    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self.response['id'].removeprefix('resp_')}{self._ids:03d}"

    def _emit(self, kind: str, **fields: Any) -> None:
        self._events.append({"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1

    def _take(self) -> list[Event]:
        events, self._events = self._events, []
        return events


class _Protocol(Exception):
    """The upstream stream did something no chat stream may do."""


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
