"""The chat -> Responses stream machine: golden transcripts, SDK-type validation, byte splits.

Regenerate the golden files after an intended change with UPDATE_GOLDEN=1, and read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import pytest
from openai.types.responses import Response, ResponseStreamEvent

from proxyd.sse import SSEDecoder, encode_event
from proxyd.wires.responses.from_pivot import chat_to_response
from proxyd.wires.responses.machine import ChatToResponsesStream
from proxyd.wires.turn import ToolName

GOLDEN = Path(__file__).parent / "golden"


def _event_classes() -> dict[str, Any]:
    union = get_args(ResponseStreamEvent)[0] if get_origin(ResponseStreamEvent) is Annotated else ResponseStreamEvent
    return {get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(union)}


EVENT_CLASSES = _event_classes()
REQUEST = {
    "model": "fast",
    "input": "hi",
    "stream": True,
    "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
}
TOOLS = {
    "exec_command": ToolName("function", "exec_command"),
    "apply_patch": ToolName("custom", "apply_patch"),
    "mcp_fs__read": ToolName("function", "read", "mcp_fs"),
}


def c(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return json.dumps(
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices, **extra}
    )


def tc(index: int, id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    fn = {k: v for k, v in (("name", name), ("arguments", args)) if v is not None}
    return {"index": index, **({"id": id, "type": "function"} if id else {}), "function": fn}


USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19,
         "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 3}}  # fmt: skip

SCENARIOS: dict[str, tuple[list[str], bool]] = {  # name -> (data payloads, call finish() at the end)
    "text": ([c({"role": "assistant", "content": ""}), c({"content": "Hel"}), c({"content": "lo."}), c({}, "stop"), c(usage=USAGE), "[DONE]"], False),
    "think_tags": ([c({"content": "<thi"}), c({"content": "nk>plan</th"}), c({"content": "ink>\n\nAnswer"}), c({}, "stop"), "[DONE]"], False),
    "reasoning_content": ([c({"reasoning_content": "Let me think"}), c({"reasoning_content": " more."}), c({"content": "42"}), c({}, "stop"), "[DONE]"], False),
    "parallel_tools": ([
        c({"content": "Running both."}),
        c({"tool_calls": [tc(0, "call_a", "exec_command", "")]}),
        c({"tool_calls": [tc(1, "call_b", "mcp_fs__read", "")]}),
        c({"tool_calls": [tc(0, args='{"cmd":')]}), c({"tool_calls": [tc(1, args='{"path":"a"}')]}),
        c({"tool_calls": [tc(0, args='"ls"}')]}), c({}, "tool_calls"), c(usage=USAGE), "[DONE]",
    ], False),
    "custom_tool": ([
        c({"tool_calls": [tc(0, "call_p", "apply_patch", '{"input": "*** Begin')]}),
        c({"tool_calls": [tc(0, args=' Patch\\n*** End Patch"}')]}), c({}, "tool_calls"), "[DONE]",
    ], False),
    "lax_server": ([  # name repeated in every chunk, no usage, no [DONE]
        c({"tool_calls": [tc(0, "call_x", "exec_command", '{"cmd"')]}),
        c({"tool_calls": [tc(0, "call_x", "exec_command", ':"pwd"}')]}), c({}, "tool_calls"),
    ], True),
    "length": ([c({"content": "A long answ"}), c({}, "length"), "[DONE]"], False),
    "upstream_error": ([c({"content": "par"}), json.dumps({"error": {"message": "This model's maximum context length is 8192 tokens", "code": None}})], False),
    "cut_off": ([c({"content": "half an ans"})], True),
    "not_json": ([c({"content": "x"}), "<html>502 Bad Gateway</html>"], False),
}  # fmt: skip


def run(payloads: list[str], finish: bool) -> list[dict[str, Any]]:
    machine = ChatToResponsesStream(REQUEST, response_id="resp_t1", tool_names=TOOLS, created_at=100, clock=lambda: 200)
    events = [e for p in payloads for e in machine.feed(p)]
    return events + (machine.finish() if finish else [])


def transcript(events: list[dict[str, Any]]) -> str:
    return "".join(encode_event(json.dumps(e, sort_keys=True), e["type"]).decode() for e in events) + "data: [DONE]\n\n"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_transcript(name: str) -> None:
    events = run(*SCENARIOS[name])
    path = GOLDEN / f"{name}.sse"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(transcript(events))
    assert transcript(events) == path.read_text()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_events_are_what_strict_clients_accept(name: str) -> None:
    events = run(*SCENARIOS[name])
    for event in events:
        if ((event.get("response") or {}).get("error") or {}).get("code") == "context_length_exceeded":
            continue  # sent for Codex on purpose; the SDK's code enum lacks it (see stream.py)
        EVENT_CLASSES[event["type"]].model_validate(event)  # the SDK's own model for this event
    assert events[0]["type"] == "response.created" and events[1]["type"] == "response.in_progress"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    terminal = [e for e in events if e["type"] in ("response.completed", "response.incomplete", "response.failed")]
    assert terminal == [events[-1]]
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == list(range(len(added)))
    if (events[-1]["response"]["error"] or {}).get("code") != "context_length_exceeded":
        Response.model_validate(events[-1]["response"])


EXPECTED = {
    "text": ("completed", ["message"]),
    "think_tags": ("completed", ["reasoning", "message"]),
    "reasoning_content": ("completed", ["reasoning", "message"]),
    "parallel_tools": ("completed", ["message", "function_call", "function_call"]),
    "custom_tool": ("completed", ["custom_tool_call"]),
    "lax_server": ("completed", ["function_call"]),
    "length": ("incomplete", ["message"]),
    "upstream_error": ("failed", []),
    "cut_off": ("failed", []),
    "not_json": ("failed", []),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_outcome(name: str) -> None:
    response = run(*SCENARIOS[name])[-1]["response"]
    assert (response["status"], [i["type"] for i in response["output"]]) == EXPECTED[name]


def test_details_of_the_answers() -> None:
    final = {name: run(*SCENARIOS[name])[-1]["response"] for name in SCENARIOS}
    assert final["text"]["output"][0]["content"][0]["text"] == "Hello."
    assert final["text"]["usage"] == {
        "input_tokens": 12, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 19,
    }  # fmt: skip
    assert final["think_tags"]["output"][0]["summary"] == [{"type": "summary_text", "text": "plan"}]
    assert final["think_tags"]["output"][1]["content"][0]["text"] == "Answer"
    calls = final["parallel_tools"]["output"][1:]
    assert [(i["call_id"], i["name"], i["arguments"], i.get("namespace")) for i in calls] == [
        ("call_a", "exec_command", '{"cmd":"ls"}', None),
        ("call_b", "read", '{"path":"a"}', "mcp_fs"),
    ]
    assert final["custom_tool"]["output"][0]["input"] == "*** Begin Patch\n*** End Patch"
    assert final["lax_server"]["output"][0]["arguments"] == '{"cmd":"pwd"}'
    assert final["length"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["upstream_error"]["error"]["code"] == "context_length_exceeded"
    assert final["cut_off"]["error"]["code"] == "server_error"
    assert final["text"]["completed_at"] == 200 and final["cut_off"]["completed_at"] is None


@pytest.mark.parametrize("name", ["text", "parallel_tools", "think_tags", "custom_tool"])
def test_same_events_when_the_bytes_arrive_one_at_a_time(name: str) -> None:
    payloads, finish = SCENARIOS[name]
    wire = b"".join(f"data: {p}\n\n".encode() for p in payloads)
    machine = ChatToResponsesStream(REQUEST, response_id="resp_t1", tool_names=TOOLS, created_at=100, clock=lambda: 200)
    decoder, events = SSEDecoder(), []
    for i in range(len(wire)):
        for event in decoder.feed(wire[i : i + 1]):
            events += machine.feed(event.data)
    assert events == run(payloads, finish)


def test_nothing_after_the_end_and_no_raise_on_garbage() -> None:
    machine = ChatToResponsesStream(REQUEST, response_id="resp_t1", tool_names={}, created_at=1)
    assert machine.feed("[DONE]")[-1]["type"] == "response.completed"
    assert machine.feed(c({"content": "late"})) == [] and machine.finish() == [] and machine.fail("x") == []
    for garbage in ("[]", "null", '{"choices": "x"}', '{"choices": [{"delta": {"tool_calls": [5]}}]}'):
        events = ChatToResponsesStream(REQUEST, response_id="resp_t2", tool_names={}, created_at=1).feed(garbage)
        assert events[-1]["type"] in ("response.failed", "response.in_progress")


def test_json_answer_uses_the_same_machine() -> None:
    completion = {
        "id": "chatcmpl-9", "object": "chat.completion", "created": 5, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "<think>hmm</think>Calling.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"ls"}'}}]}}],
        "usage": USAGE,
    }  # fmt: skip
    response = chat_to_response(completion, REQUEST, response_id="resp_j", tool_names=TOOLS, clock=lambda: 9)
    Response.model_validate(response)
    assert [i["type"] for i in response["output"]] == ["reasoning", "message", "function_call"]
    assert response["status"] == "completed" and response["usage"]["total_tokens"] == 19
