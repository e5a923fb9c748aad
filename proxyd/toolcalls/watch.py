"""A pivot answer's tool calls checked, and with repair on rewritten (pure).

:class:`ToolWatch` sits in a pivot stream (between a provider's decoder and a client's encoder,
or beside a relayed stream as an observer). Without repair it only reads: chunks pass as they
came, and the calls and text are judged when the answer finishes. With repair on it holds back
the calls themselves (each is sent whole when the answer finishes, fixed if it can be) and any
text that may be a call (:class:`~proxyd.toolcalls.hold.Hold`); a call found in held text goes
out as a tool call after the rest of the text, and the finish reason becomes ``tool_calls``.
Only the first choice is watched (tool-using clients ask for one).

:func:`check_completion` does the same for a whole answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from proxyd.toolcalls.findings import Findings, Record
from proxyd.toolcalls.hold import Hold
from proxyd.toolcalls.in_text import Found, find_calls
from proxyd.toolcalls.judge import Judged, judge
from proxyd.toolcalls.offered import Offered
from proxyd.toolcalls.schemas import Schemas
from proxyd.wires.pivot import END, Item

Body = dict[str, Any]
MAX_TEXT = 256 * 1024  # text beyond this is not searched for calls
MAX_ARGUMENTS = 4 * 1024 * 1024


@dataclass(slots=True)
class _Call:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    size: int = 0  # of the arguments so far

    def as_pivot(self, index: int, name: str, arguments: str, ids: str) -> Body:
        return {"index": index, "id": self.id or f"call_{ids}_{index}", "type": "function",
                "function": {"name": name, "arguments": arguments}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Settled:
    findings: Findings
    text: str | None  # held text to send before the calls (repair on)
    calls: list[Body]  # the calls to send (repair on), in the pivot's form


class Judge:
    """What one request's answers are judged against; ``ids`` makes the ids of calls proxyd
    writes (unique per request: a conversation's history must not hold one id twice)."""

    __slots__ = ("ids", "offered", "repair", "schemas")

    def __init__(self, offered: Offered, schemas: Schemas, repair: bool, ids: str = "proxyd") -> None:
        self.offered, self.schemas, self.repair, self.ids = offered, schemas, repair, ids

    def settle(self, calls: list[_Call], sent: str, held: str) -> Settled:
        """Judge the finished answer's calls and text; with repair, what to send in their place."""
        records: list[Record] = []
        out: list[Body] = []
        for index, call in enumerate(calls):
            arguments = "".join(call.arguments)
            verdict = judge(call.name, arguments, self.offered, self.schemas)
            fixed = verdict.fixed if self.repair else None
            records.append(Record(verdict, repaired=fixed is not None))
            out.append(call.as_pivot(index, *(fixed or (call.name, arguments)), self.ids))
        text = held if self.repair else None
        found = find_calls(sent + held, self.offered) if not calls else None
        if found is not None:
            # Repaired only when all of it was held: text already sent cannot be taken back.
            in_held = find_calls(held, self.offered) if self.repair else None
            repairable = in_held is not None and in_held.calls == found.calls
            self._in_text(found, records, out if repairable else [], repairable)
            if in_held is not None and repairable:
                text = in_held.text
        return Settled(Findings(tuple(records)), text, out if self.repair else [])

    def _in_text(self, found: Found, records: list[Record], out: list[Body], repairable: bool) -> None:
        for index, (name, arguments) in enumerate(found.calls):
            verdict = judge(name, arguments, self.offered, self.schemas)
            flagged = Judged("in_text", verdict.tool, verdict.arguments, f"a call written as text ({found.form})")
            records.append(Record(flagged, repaired=repairable, form=found.form))
            out.append(_Call().as_pivot(index, *(verdict.fixed or (name, arguments)), self.ids))


class ToolWatch:
    __slots__ = ("_base", "_calls", "_hold", "_judge", "_settled", "_text", "_text_size")

    def __init__(self, judge_: Judge) -> None:
        self._judge = judge_
        self._calls: dict[int, _Call] = {}
        self._text: list[str] = []
        self._text_size = 0
        self._hold = Hold(judge_.offered) if judge_.repair else None
        self._settled: Settled | None = None
        self._base: Body = {}

    @property
    def findings(self) -> Findings | None:
        """The judged answer, once it finished."""
        return self._settled.findings if self._settled is not None else None

    def feed(self, items: list[Item]) -> list[Item]:
        """The items to send on (rewritten only with repair on)."""
        if self._hold is None:  # no repair: read them, and they go on as they are
            self.see(items)
            return items
        out: list[Item] = []
        for item in items:
            if item is END:
                out += self._finish()
            elif isinstance(item, dict) and "error" in item:
                out += self.close()
            elif isinstance(item, dict):
                item = self._chunk(item, out)
                if item is None:
                    continue
            out.append(item)
        return out

    def see(self, items: list[Item]) -> None:
        """Read items that pass unchanged (a relayed stream's, decoded beside it)."""
        for item in items:
            if item is END:
                self._finish()
            elif type(item) is dict and "error" not in item:
                choice = self._read(item)
                if choice is not None and choice.get("finish_reason") is not None:
                    self._finish()

    def close(self) -> list[Item]:
        """The answer broke off: send what was held as text (nothing is judged)."""
        held = self._hold.take() if self._hold is not None else ""
        return [self._make({"content": held})] if held else []

    def _read(self, chunk: Body) -> Body | None:
        """Take in a chunk's first choice (and with repair, take out what is held); that choice."""
        choices = chunk.get("choices")
        choice = choices[0] if type(choices) is list and choices else None
        if type(choice) is not dict or choice.get("index", 0) != 0:
            return None
        self._base = chunk
        delta = choice.get("delta")
        if delta and type(delta) is dict:
            self._delta(delta)
        return choice

    def _chunk(self, chunk: Body, out: list[Item]) -> Body | None:
        choice = self._read(chunk)
        if choice is None:
            return chunk
        if choice.get("finish_reason") is not None and self._settled is None:
            out += self._finish()
            if self._settled is not None and self._judge.repair and self._settled.calls:
                choice["finish_reason"] = "tool_calls"
        elif self._hold is not None and not choice.get("delta") and not chunk.get("usage"):
            return None  # everything it carried is held
        return chunk

    def _delta(self, delta: Body) -> None:
        content = delta.get("content")
        if content and type(content) is str:
            if self._text_size < MAX_TEXT:
                self._text.append(content)
                self._text_size += len(content)
            if self._hold is not None:
                passed = self._hold.feed(content)
                if passed:
                    delta["content"] = passed
                else:
                    del delta["content"]
        calls = delta.get("tool_calls")
        if calls and type(calls) is list:
            for piece in calls:
                self._call_piece(piece)
            if self._judge.repair:
                del delta["tool_calls"]

    def _call_piece(self, piece: object) -> None:
        if type(piece) is not dict:
            return
        index = piece.get("index", 0)
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _Call()
        if call.id is None:
            call.id = piece.get("id")
        fn = piece.get("function")
        if type(fn) is dict:
            name, arguments = fn.get("name"), fn.get("arguments")
            if name and type(name) is str:
                call.name += name
            if arguments and type(arguments) is str and call.size < MAX_ARGUMENTS:
                call.arguments.append(arguments)
                call.size += len(arguments)

    def _finish(self) -> list[Item]:
        if self._settled is not None:
            return []
        held = self._hold.take() if self._hold is not None else ""
        text = "".join(self._text)
        calls = [self._calls[i] for i in sorted(self._calls)]
        self._settled = settled = self._judge.settle(calls, text[: len(text) - len(held)], held)
        out: list[Item] = []
        if settled.text:
            out.append(self._make({"content": settled.text}))
        if settled.calls:
            out.append(self._make({"tool_calls": settled.calls}))
        return out

    def _make(self, delta: Body) -> Body:
        base = {k: v for k, v in self._base.items() if k not in ("choices", "usage")}
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def check_completion(completion: Body, judge_: Judge) -> tuple[Body, Findings]:
    """A whole pivot answer judged; with repair, the answer to send instead (else it as it is)."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    message = choice.get("message") if choice is not None else None
    if not isinstance(message, dict):
        return completion, Findings()
    calls = [_whole_call(c) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    settled = judge_.settle(calls, "", text[:MAX_TEXT])
    if not any(r.repaired for r in settled.findings.records):
        return completion, settled.findings
    fixed = {**message, "content": settled.text or None}
    if settled.calls:
        fixed["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in settled.calls]
    finish = "tool_calls" if settled.calls else choice.get("finish_reason")  # type: ignore[union-attr]
    new_choice = {**choice, "message": fixed, "finish_reason": finish}  # type: ignore[dict-item]
    return {**completion, "choices": [new_choice, *choices[1:]]}, settled.findings  # type: ignore[index]


def _whole_call(call: Body) -> _Call:
    fn = call.get("function")
    if not isinstance(fn, dict):
        fn = {}
    arguments = fn.get("arguments")
    if not isinstance(arguments, str):  # Ollama's own API, and some gateways, give an object
        arguments = json.dumps(arguments) if arguments is not None else ""
    return _Call(call.get("id"), str(fn.get("name") or ""), [arguments])
