"""The Anthropic client stream, checked frame by frame the way Claude Code reads it, against the
chat streams that broke other bridges (each row is a bug report from a peer's tracker)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxyd.sse import SSEDecoder
from proxyd.wires.anthropic.from_pivot import AnthropicEncoder
from proxyd.wires.pivot import END


def ch(
    delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "c",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def call(index: int, *, id: str | None = None, name: str | None = None, args: str = "") -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name:
        fn["name"] = name
    out: dict[str, Any] = {"index": index, "function": fn}
    if id:
        out["id"], out["type"] = id, "function"
    return out


def frames(items: list[Any]) -> list[dict[str, Any]]:
    encoder = AnthropicEncoder(message_id="msg_t", model="m")
    out = encoder.start() + encoder.feed(items) + encoder.finish()
    decoder = SSEDecoder()
    events = decoder.feed(out) + decoder.flush()
    assert all(e.event == json.loads(e.data)["type"] for e in events)  # event: name equals data.type
    return [json.loads(e.data) for e in events]


def claude_code_reads(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What Claude Code builds from the stream, raising where it would ("Content block not found"...)."""
    assert [e["type"] for e in events].count("message_start") == 1 and events[0]["type"] == "message_start"
    blocks: list[dict[str, Any]] = []
    open_index = None
    for e in events[1:]:
        kind = e["type"]
        if kind == "content_block_start":
            assert open_index is None and e["index"] == len(blocks), "blocks must come one at a time, in order"
            block = dict(e["content_block"])
            if block["type"] == "tool_use":
                block["input"], block["_json"] = {}, ""  # input comes only from input_json_delta
            if block["type"] == "thinking":
                assert "signature" in block
            blocks.append(block)
            open_index = e["index"]
        elif kind == "content_block_delta":
            assert e["index"] == open_index, "Content block not found"
            block, delta = blocks[open_index], e["delta"]
            expected = {
                "text_delta": "text",
                "input_json_delta": "tool_use",
                "thinking_delta": "thinking",
                "signature_delta": "thinking",
            }
            assert expected[delta["type"]] == block["type"], f"Content block is not a {block['type']} block"
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            else:
                block["_json"] += delta["partial_json"]
        elif kind == "content_block_stop":
            assert e["index"] == open_index
            open_index = None
        elif kind == "message_delta":
            assert open_index is None and "output_tokens" in e["usage"]
            stop = e["delta"]["stop_reason"]
        elif kind == "message_stop":
            break
        elif kind == "error":
            return {"error": e["error"], "content": blocks}
    for block in blocks:
        if block["type"] == "tool_use":
            block["input"] = json.loads(block.pop("_json") or "{}")
        if block["type"] == "text":
            assert block["text"], "no empty text blocks"
    if stop == "tool_use":
        assert any(b["type"] == "tool_use" for b in blocks), "tool_use stop without a tool block stalls the client"
    return {"stop": stop, "content": blocks}


USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
CASES: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "id, name and arguments in one chunk": (
        [ch({"tool_calls": [call(0, id="c1", name="Bash", args='{"command": "ls"}')]}), ch({}, "tool_calls"), ch(usage=USAGE), END],
        {"stop": "tool_use", "content": [{"type": "tool_use", "id": "c1", "name": "Bash", "input": {"command": "ls"}}]},
    ),
    "text and a tool call in one chunk": (
        [ch({"content": "Running it.", "tool_calls": [call(0, id="c1", name="Bash", args='{"command": "ls"}')]}), ch({}, "tool_calls"), END],
        {"stop": "tool_use", "content": [{"type": "text", "text": "Running it."}, {"type": "tool_use", "id": "c1", "name": "Bash", "input": {"command": "ls"}}]},
    ),
    "thinking, then text: never a thinking delta in a text block": (
        [ch({"reasoning_content": "Hmm."}), ch({"content": "<think>more</think>Done."}), ch({}, "stop"), END],
        {"stop": "end_turn", "content": [{"type": "thinking", "thinking": "Hmm.more", "signature": ""}, {"type": "text", "text": "Done."}]},
    ),
    "interleaved parallel calls keep every argument": (
        [ch({"tool_calls": [call(0, id="a", name="Read", args='{"path":')]}), ch({"tool_calls": [call(1, id="b", name="Read", args='{"path": "b"}')]}),
         ch({"tool_calls": [call(0, args=' "a"}')]}), ch({}, "tool_calls"), END],
        {"stop": "tool_use", "content": [{"type": "tool_use", "id": "a", "name": "Read", "input": {"path": "a"}}, {"type": "tool_use", "id": "b", "name": "Read", "input": {"path": "b"}}]},
    ),
    "Gemini-style calls with no index, whole in one chunk": (
        [ch({"tool_calls": [{"id": "g1", "function": {"name": "A", "arguments": "{}"}}, {"id": "g2", "function": {"name": "B", "arguments": '{"x": 1}'}}]}), ch({}, "tool_calls"), END],
        {"stop": "tool_use", "content": [{"type": "tool_use", "id": "g1", "name": "A", "input": {}}, {"type": "tool_use", "id": "g2", "name": "B", "input": {"x": 1}}]},
    ),
    "tool_calls finish without a call is end_turn": (
        [ch({"content": "Nothing to run."}), ch({}, "tool_calls"), END],
        {"stop": "end_turn", "content": [{"type": "text", "text": "Nothing to run."}]},
    ),
    "empty content pieces open no block": (
        [ch({"role": "assistant", "content": ""}), ch({"content": ""}), ch({"content": "x"}), ch({}, "length"), END],
        {"stop": "max_tokens", "content": [{"type": "text", "text": "x"}]},
    ),
    "a lax server without [DONE]": (
        [ch({"content": "ok"}), ch({}, "stop")],
        {"stop": "end_turn", "content": [{"type": "text", "text": "ok"}]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_claude_code_reads_what_it_should(name: str) -> None:
    items, expected = CASES[name]
    assert claude_code_reads(frames(items)) == expected


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        ([ch({"content": "Half"}), {"error": {"message": "CUDA error: out of memory"}}], "out of memory"),
        ([ch({"content": "Half"})], "ended the stream before"),
        ([ch({"content": "Half"}), "not json"], "not a JSON object"),
    ],
)
def test_a_broken_stream_ends_with_an_error_event(items: list[Any], fragment: str) -> None:
    read = claude_code_reads(frames(items))
    assert read["error"]["type"] == "api_error" and fragment in read["error"]["message"]
    assert read["content"] == [{"type": "text", "text": "Half"}]


def test_usage_reaches_message_delta() -> None:
    events = frames(
        [ch({"content": "x"}), ch({}, "stop"), ch(usage={**USAGE, "prompt_tokens_details": {"cached_tokens": 2}}), END]
    )
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["usage"] == {
        "input_tokens": 5,
        "output_tokens": 3,
        "cache_read_input_tokens": 2,
        "cache_creation_input_tokens": 0,
    }
