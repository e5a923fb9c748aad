"""Anthropic requests to the pivot and back, with what Claude Code sends and what Anthropic refuses."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.fitting import drop_cache_control
from proxyd.wires.anthropic.request_from_pivot import chat_to_anthropic
from proxyd.wires.anthropic.request_to_pivot import anthropic_to_chat
from proxyd.wires.errors import TranslationError

CLAUDE_CODE: dict[str, Any] = {
    "model": "claude-sonnet-4-6", "max_tokens": 32000, "stream": True,
    "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
               {"type": "text", "text": "Be careful."}],
    "thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"},
    "metadata": {"user_id": '{"device": "x"}'}, "context_management": {"edits": []},
    "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "list files", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "use ls", "signature": "sig1"},
            {"type": "text", "text": "Running."},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "a b"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]},
            {"type": "text", "text": "and now?"}]},
    ],
}  # fmt: skip


def test_what_claude_code_sends_reaches_the_pivot() -> None:
    pivoted = anthropic_to_chat(CLAUDE_CODE)
    marked = pivoted.body  # the breakpoint stays on its part, for providers that take it (OpenRouter)
    assert marked["messages"][0] == {"role": "system", "content": [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Be careful."}]}  # fmt: skip
    chat = drop_cache_control(marked)  # and as every other chat server gets it
    assert chat is not None
    assert chat["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nBe careful."}
    assert chat["messages"][1] == {"role": "user", "content": "list files"}
    assistant = chat["messages"][2]
    assert assistant["content"] == "Running." and assistant["reasoning_content"] == "use ls"
    assert assistant["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}
    ]
    assert assistant["thinking_blocks"] == [{"type": "thinking", "thinking": "use ls", "signature": "sig1"}]
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "a b\n[image]"}
    assert chat["messages"][4] == {"role": "user", "content": "and now?"}
    assert (
        chat["reasoning_effort"] == "high"
        and chat["max_tokens"] == 32000
        and chat["stream_options"] == {"include_usage": True}
    )
    assert set(pivoted.dropped) == {"metadata", "context_management"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "developer", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
    ],
)  # fmt: skip
def test_bad_anthropic_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        anthropic_to_chat(body)
    assert caught.value.param == param


def test_a_chat_request_is_what_anthropic_takes() -> None:
    chat: dict[str, Any] = {
        "model": "claude-x", "reasoning_effort": "medium", "max_tokens": 4000, "stop": "END", "parallel_tool_calls": False,
        "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "system", "content": "s1"}, {"role": "developer", "content": "s2"},
            {"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}}]},
            {"role": "assistant", "content": None, "reasoning_content": "why", "thinking_blocks": [{"type": "thinking", "thinking": "why", "signature": ""}],
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "user", "content": "next"},
        ],
    }  # fmt: skip
    out = chat_to_anthropic(chat)
    assert out["system"] == "s1\n\ns2" and out["stop_sequences"] == ["END"] and out["max_tokens"] == 4000
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 1}}]},  # an unsigned thinking block is not sent
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "one"}, {"type": "text", "text": "next"}]},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("effort", "max_tokens", "thinking"),
    [("low", 8192, 1024), ("high", 8192, 4096), ("high", 3000, 2999), ("high", 1024, None)],
)
def test_effort_becomes_a_budget_below_max_tokens(effort: str, max_tokens: int, thinking: int | None) -> None:
    out = chat_to_anthropic(
        {
            "model": "m",
            "max_tokens": max_tokens,
            "reasoning_effort": effort,
            "messages": [{"role": "user", "content": "x"}],
        }
    )
    assert (out.get("thinking") or {}).get("budget_tokens") == thinking


SYSTEM_MID = {"role": "system", "content": [{"type": "text", "text": "<env>cwd: /w</env>", "cache_control": {"type": "ephemeral"}}]}  # fmt: skip


@pytest.mark.parametrize(
    ("messages", "expected", "dropped"),
    [
        # Claude Code 2.1.328 and later: its environment block as a system message after the first user turn
        ([{"role": "user", "content": "hi"}, SYSTEM_MID, {"role": "user", "content": "go"}],
         [{"role": "user", "content": "hi"}, {"role": "system", "content": "<env>cwd: /w</env>"},
          {"role": "user", "content": "go"}], []),
        ([{"role": "user", "content": [{"type": "document", "title": "README",
                                        "source": {"type": "text", "media_type": "text/plain", "data": "# proxyd"}}]}],
         [{"role": "user", "content": "README\n\n# proxyd"}], []),
        ([{"role": "user", "content": [{"type": "search_result", "title": "T", "source": "https://x",
                                        "content": [{"type": "text", "text": "found"}]}]}],
         [{"role": "user", "content": "T https://x\n\nfound"}], []),
        ([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "tool_reference", "tool_name": "Grep"},
                                       {"type": "document", "source": {"type": "file", "file_id": "f1"}},
                                       {"type": "image", "source": {"type": "file", "file_id": "f2"}}]}],
         [{"role": "user", "content": "a"}],
         ["messages[0].content[1] (tool_reference)", "messages[0].content[2] (document)",
          "messages[0].content[3] (image)"]),
        ([{"role": "user", "content": "q"},
          {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}},
                                            {"type": "web_search_tool_result", "tool_use_id": "s1", "content": []},
                                            {"type": "text", "text": "answer"}]}],
         [{"role": "user", "content": "q"}, {"role": "assistant", "content": "answer"}],
         ["messages[1].content[0] (server_tool_use)", "messages[1].content[1] (web_search_tool_result)"]),
        ([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                        "content": [{"type": "text", "text": "out"}, {"type": "tool_reference", "tool_name": "X"}]}]}],
         [{"role": "tool", "tool_call_id": "t1", "content": "out"}], ["messages[0].content[0].content[1] (tool_reference)"]),
    ],
)  # fmt: skip
def test_what_the_messages_api_accepts_is_mapped_or_dropped_with_a_note(
    messages: list[dict[str, Any]], expected: list[dict[str, Any]], dropped: list[str]
) -> None:
    pivoted = anthropic_to_chat({"model": "m", "max_tokens": 5, "messages": messages})
    assert pivoted.body["messages"] == expected
    assert list(pivoted.dropped) == dropped


def test_a_pdf_file_part_becomes_a_document_and_audio_is_refused_in_words() -> None:
    pdf = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}
    out = chat_to_anthropic(
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "read"}, pdf]}]}
    )
    assert out["messages"][0]["content"][1] == {
        "type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}  # fmt: skip
    audio = {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}
    with pytest.raises(TranslationError) as info:
        chat_to_anthropic({"model": "m", "messages": [{"role": "user", "content": [audio]}]})
    assert info.value.param == "messages[0].content[0].type"
