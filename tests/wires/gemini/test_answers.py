"""Gemini's whole answers, usage, errors and stream from the pivot's (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxyd.wires.gemini.answers import answer_from_chat, error_object, usage_metadata
from proxyd.wires.gemini.from_pivot import GeminiEncoder
from proxyd.wires.pivot import END, Malformed

THINKING = {"contents": [], "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
USAGE = {"prompt_tokens": 120, "completion_tokens": 50, "total_tokens": 170,
         "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 20}}  # fmt: skip


def test_a_whole_answer_with_thoughts_text_and_two_calls() -> None:
    completion = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Looking.", "reasoning_content": "I should list.",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "ls", "arguments": '{"d": "."}'}},
                       {"id": "c2", "type": "function", "function": {"name": "pwd", "arguments": ""}}]}}],
        "usage": USAGE}  # fmt: skip
    out = answer_from_chat(completion, THINKING, model="qwen", response_id="r1")
    assert out == {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "I should list.", "thought": True}, {"text": "Looking."},
            {"functionCall": {"id": "c1", "name": "ls", "args": {"d": "."}}},
            {"functionCall": {"id": "c2", "name": "pwd", "args": {}}}]},
            "index": 0, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 30, "totalTokenCount": 170,
                          "thoughtsTokenCount": 20, "cachedContentTokenCount": 100},
        "modelVersion": "qwen", "responseId": "r1",
    }  # fmt: skip


def test_thoughts_go_only_to_a_request_that_asked_for_them() -> None:
    completion = {"choices": [{"message": {"content": "Hi", "reasoning_content": "hmm"}, "finish_reason": "length"}]}
    out = answer_from_chat(completion, {"contents": []}, model="m", response_id="r")
    assert out["candidates"][0]["content"]["parts"] == [{"text": "Hi"}]
    assert out["candidates"][0]["finishReason"] == "MAX_TOKENS"


@pytest.mark.parametrize(
    ("usage", "metadata"),
    [
        ({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
         {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}),
        (None, {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}),
        ({"prompt_tokens": 10, "completion_tokens": 5}, {"promptTokenCount": 10, "candidatesTokenCount": 5,
                                                         "totalTokenCount": 15}),
    ],
)  # fmt: skip
def test_usage_metadata(usage: Any, metadata: dict[str, Any]) -> None:
    assert usage_metadata(usage) == metadata


@pytest.mark.parametrize(
    ("status", "name"),
    [(400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND"),
     (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED"),
     (507, "INTERNAL"), (422, "FAILED_PRECONDITION")],
)  # fmt: skip
def test_errors_in_googles_shape(status: int, name: str) -> None:
    assert error_object("bad", status) == {"error": {"code": status, "message": "bad", "status": name}}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk",
                           "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    if usage is not None:
        out["usage"] = usage
    return out


def datas(raw: bytes) -> list[dict[str, Any]]:
    text = raw.decode()
    assert "event:" not in text and "[DONE]" not in text  # Gemini's SSE: data lines only
    return [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]


def parts(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [e["candidates"][0]["content"]["parts"] for e in events if "candidates" in e]


def test_a_stream_of_thoughts_text_and_parallel_calls() -> None:
    encoder = GeminiEncoder(response_id="r1", model="qwen", thoughts=True)
    assert encoder.start() == b""
    out = encoder.feed([
        chunk({"role": "assistant", "reasoning_content": "plan"}),
        chunk({"content": "Hel"}), chunk({"content": "lo"}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "ls", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"d":'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "c2", "type": "function", "function": {"name": "pwd", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "."}'}}]}),  # a late piece of the first
        chunk({}, "tool_calls"), chunk(None, usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}),
        END,
    ])  # fmt: skip
    events = datas(out)
    assert parts(events) == [
        [{"text": "plan", "thought": True}], [{"text": "Hel"}], [{"text": "lo"}],
        [{"functionCall": {"id": "c1", "name": "ls", "args": {"d": "."}}},  # each call whole, in one part
         {"functionCall": {"id": "c2", "name": "pwd", "args": {}}}],
        [],  # the last chunk: the finish reason and usage
    ]  # fmt: skip
    last = events[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}
    assert all(e["responseId"] == "r1" and e["modelVersion"] == "qwen" for e in events)
    assert encoder.ended and encoder.finish() == b""


def test_a_cut_stream_ends_with_an_error_and_no_finish_reason() -> None:
    encoder = GeminiEncoder(response_id="r", model="m", thoughts=False)
    out = encoder.feed([chunk({"content": "Hel"})]) + encoder.finish()
    events = datas(out)
    assert events[-1] == {"error": {"code": 502, "message": "the provider ended the stream before the answer was "
                                                           "finished", "status": "UNAVAILABLE"}}  # fmt: skip
    assert not any("finishReason" in e.get("candidates", [{}])[0] for e in events)


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ({"error": {"message": "model overloaded"}}, "model overloaded"),
        (Malformed("{oops"), "not JSON"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_a_providers_error_midstream_is_googles_error(item: Any, said: str) -> None:
    encoder = GeminiEncoder(response_id="r", model="m", thoughts=False)
    events = datas(encoder.feed([chunk({"content": "a"}), item]))
    assert said in events[-1]["error"]["message"] and encoder.ended


def test_a_stream_that_ends_without_a_finish_reason_completes_as_stop() -> None:
    encoder = GeminiEncoder(response_id="r", model="m", thoughts=False)
    events = datas(encoder.feed([chunk({"content": "a"}), END]))
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_thoughts_are_left_out_unless_asked() -> None:
    encoder = GeminiEncoder(response_id="r", model="m", thoughts=False)
    events = datas(encoder.feed([chunk({"reasoning_content": "hmm"}), chunk({"content": "x"}, "stop"), END]))
    assert parts(events)[0] == [{"text": "x"}]
