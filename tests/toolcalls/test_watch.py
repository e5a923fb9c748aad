"""A pivot answer's calls judged as it streams, and rewritten only with repair on."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from proxyd.toolcalls.offered import from_pivot
from proxyd.toolcalls.schemas import Schemas
from proxyd.toolcalls.watch import Judge, ToolWatch, check_completion
from proxyd.wires.pivot import END
from tests.toolcalls.shapes import BAD_CALLS, IN_TEXT, TOOLS, BadCall, InText

OFFERED = from_pivot(TOOLS)


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip


def text_stream(text: str, size: int = 5) -> list[Any]:
    parts = [chunk({"content": text[i : i + size]}) for i in range(0, len(text), size)]
    usage = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}  # fmt: skip
    return [chunk({"role": "assistant", "content": ""}), *parts, chunk({}, "stop"), usage, END]


def call_stream(name: str, arguments: str) -> list[Any]:
    head = {"index": 0, "id": "call_up", "type": "function", "function": {"name": name, "arguments": ""}}
    parts = [{"index": 0, "function": {"arguments": arguments[i : i + 4]}} for i in range(0, len(arguments), 4)]
    return [chunk({"role": "assistant", "tool_calls": [head]}), *(chunk({"tool_calls": [p]}) for p in parts),
            chunk({}, "tool_calls"), END]  # fmt: skip


def watch(repair: bool) -> ToolWatch:
    return ToolWatch(Judge(OFFERED, Schemas(), repair, "req1"))


def replay(items: list[Any]) -> dict[str, Any]:
    """What a client builds from the stream: text, calls by index, finish reason."""
    text, calls, finish = "", {}, None
    for item in items:
        if item is END or not item.get("choices"):
            continue
        choice = item["choices"][0]
        delta = choice.get("delta") or {}
        text += delta.get("content") or ""
        for piece in delta.get("tool_calls") or []:
            call = calls.setdefault(piece["index"], {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or piece.get("id")
            call["name"] += piece.get("function", {}).get("name") or ""
            call["arguments"] += piece.get("function", {}).get("arguments") or ""
        finish = choice.get("finish_reason") or finish
    return {"text": text, "calls": [calls[i] for i in sorted(calls)], "finish": finish}


@pytest.mark.parametrize("shape", IN_TEXT, ids=[s.id for s in IN_TEXT])
def test_in_text_without_repair_passes_unchanged_and_is_flagged(shape: InText) -> None:
    items = text_stream(shape.text)
    w = watch(repair=False)
    out = w.feed(copy.deepcopy(items))
    assert out == items
    assert w.findings is not None and w.findings.outcome == "in_text"
    assert w.findings.counts() == {"in_text": len(shape.calls)}


@pytest.mark.parametrize("size", [1, 5, 100])
@pytest.mark.parametrize("shape", IN_TEXT, ids=[s.id for s in IN_TEXT])
def test_in_text_with_repair_becomes_tool_calls(shape: InText, size: int) -> None:
    w = watch(repair=True)
    out = w.feed(text_stream(shape.text, size))
    seen = replay(out)
    assert seen["text"].strip() == shape.rest
    assert [(c["name"], json.loads(c["arguments"])) for c in seen["calls"]] == list(shape.calls)
    assert len({c["id"] for c in seen["calls"]}) == len(shape.calls) and all("req1" in c["id"] for c in seen["calls"])
    assert seen["finish"] == "tool_calls"
    assert out[-1] is END and "usage" in out[-2]  # the usage chunk still follows the finish
    assert w.findings is not None and w.findings.counts() == {"repaired": len(shape.calls)}
    assert w.findings.outcome == "in_text"  # the model still wrote them as text


@pytest.mark.parametrize("case", BAD_CALLS, ids=[c.id for c in BAD_CALLS])
def test_proper_calls_judged_and_repaired(case: BadCall) -> None:
    plain = watch(repair=False)
    items = call_stream(case.name, case.arguments)
    assert plain.feed(copy.deepcopy(items)) == items
    assert plain.findings is not None and plain.findings.counts() == {case.result: 1}
    fixing = watch(repair=True)
    seen = replay(fixing.feed(call_stream(case.name, case.arguments)))
    call = seen["calls"][0]
    assert call["id"] == "call_up"  # the model's own id is kept
    if case.fixed is not None:
        assert (call["name"], json.loads(call["arguments"])) == case.fixed
        assert fixing.findings is not None and fixing.findings.counts() == {"repaired": 1}
    else:  # nothing it may fix: the call goes out as the model sent it
        assert (call["name"], call["arguments"]) == (case.name, case.arguments)


def test_text_before_a_proper_call_is_not_held() -> None:
    w = watch(repair=True)
    out = w.feed([chunk({"role": "assistant", "content": "Checking"}), chunk({"content": " now."})])
    assert replay(out)["text"] == "Checking now."


def test_a_broken_stream_sends_the_held_text_and_judges_nothing() -> None:
    w = watch(repair=True)
    sent = replay(w.feed([chunk({"content": 'Sure.\n<tool_call>\n{"name": "get_'})]))["text"]
    rest = replay(w.feed([{"error": {"message": "cut", "code": "upstream_error"}}]))
    assert sent + rest["text"] == 'Sure.\n<tool_call>\n{"name": "get_'
    assert w.findings is None


def test_no_call_at_all() -> None:
    w = watch(repair=True)
    seen = replay(w.feed(text_stream("It is sunny in Paris.")))
    assert seen == {"text": "It is sunny in Paris.", "calls": [], "finish": "stop"}
    assert w.findings is not None and w.findings.outcome == "none" and w.findings.counts() == {}


def test_other_choices_pass_untouched() -> None:
    w = watch(repair=True)
    other = {"id": "c1", "choices": [{"index": 1, "delta": {"content": "<tool_call>"}, "finish_reason": None}]}
    assert w.feed([copy.deepcopy(other)]) == [other]


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]}  # fmt: skip


@pytest.mark.parametrize("shape", IN_TEXT, ids=[s.id for s in IN_TEXT])
def test_whole_answers(shape: InText) -> None:
    answer = completion({"content": shape.text})
    same, findings = check_completion(answer, Judge(OFFERED, Schemas(), False))
    assert same is answer and findings.outcome == "in_text"
    fixed, findings = check_completion(answer, Judge(OFFERED, Schemas(), True, "r"))
    message = fixed["choices"][0]["message"]
    assert message["content"] == (shape.rest or None)
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]] == list(
        shape.calls
    )
    assert fixed["choices"][0]["finish_reason"] == "tool_calls" and findings.counts() == {"repaired": len(shape.calls)}


def test_a_valid_whole_answer_is_the_same_object_with_repair_on() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "P"}'}}
    answer = completion({"content": None, "tool_calls": [call]}, "tool_calls")
    same, findings = check_completion(answer, Judge(OFFERED, Schemas(), True))
    assert same is answer and findings.counts() == {"ok": 1}


def test_arguments_given_as_an_object_are_judged() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "P"}}}
    _, findings = check_completion(completion({"tool_calls": [call]}), Judge(OFFERED, Schemas(), False))
    assert findings.counts() == {"ok": 1}
