from __future__ import annotations

from typing import Any

import pytest

from proxyd.wires.errors import TranslationError
from proxyd.wires.responses.request_to_pivot import responses_to_chat
from proxyd.wires.responses.tools import custom_input
from proxyd.wires.turn import ToolName


def chat(body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return responses_to_chat({"model": "m", **body}, **kw).body


def msgs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return chat(body)["messages"]


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"input": "hi"}, [{"role": "user", "content": "hi"}]),
        ({"instructions": "be brief", "input": "hi"}, [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]),
        ({"input": [{"role": "user", "content": "no type field"}]}, [{"role": "user", "content": "no type field"}]),
        (
            {"input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]}]},
            [{"role": "system", "content": "rules"}],
        ),
        (
            {"input": [{"role": "user", "id": "msg_1", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}]},
            [{"role": "user", "content": "a\nb"}],
        ),
        (
            {"input": [{"role": "user", "content": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"},
            ]}]},
            [{"role": "user", "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
            ]}],
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"}]}]},
            [{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"}}]}],
        ),
    ],
)  # fmt: skip
def test_messages(body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    assert msgs(body) == messages


def test_developer_role_kept_for_providers_that_take_it() -> None:
    body = {"instructions": "x", "input": [{"role": "developer", "content": "y"}]}
    assert [m["role"] for m in chat(body, developer_role=True)["messages"]] == ["developer", "developer"]


def test_call_history_is_merged_into_one_assistant_message() -> None:
    history = [
        {"type": "message", "role": "user", "content": "list files"},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_a",
            "content": [{"type": "output_text", "text": "Checking."}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "exec_command",
            "arguments": '{"cmd":"ls"}',
        },
        {
            "type": "function_call",
            "id": "fc_2",
            "call_id": "call_2",
            "name": "exec_command",
            "arguments": '{"cmd":"pwd"}',
        },
        {
            "type": "function_call_output",
            "id": "fco_1",
            "call_id": "call_1",
            "output": "Process exited with code 0\nOutput:\na.py",
        },
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "/work"}]},
        {"type": "custom_tool_call", "call_id": "call_3", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "call_3", "output": "Done"},
    ]
    assert msgs({"input": history}) == [
        {"role": "user", "content": "list files"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"ls"}'}},
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "exec_command", "arguments": '{"cmd":"pwd"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Process exited with code 0\nOutput:\na.py"},
        {"role": "tool", "tool_call_id": "call_2", "content": "/work"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_3",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": '{"input": "*** Begin Patch"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_3", "content": "Done"},
    ]


CODEX_TOOLS = [
    {"type": "function", "name": "exec_command", "description": "Run a command", "strict": False,
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
    {"type": "namespace", "name": "mcp_fs", "description": "files", "tools": [
        {"type": "function", "name": "read", "parameters": {"type": "object", "properties": {}}},
        {"type": "custom", "name": "write"},
    ]},
    {"type": "custom", "name": "apply_patch", "description": "Edit files",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}},
    {"type": "web_search", "external_web_access": False},
]  # fmt: skip


def test_tools_flattened_nested_and_mapped_back() -> None:
    translated = responses_to_chat({"model": "m", "input": "x", "tools": CODEX_TOOLS, "parallel_tool_calls": True})
    tools = translated.body["tools"]
    assert [t["function"]["name"] for t in tools] == ["exec_command", "mcp_fs__read", "mcp_fs__write", "apply_patch"]
    assert tools[0] == {
        "type": "function",
        "function": {"name": "exec_command", "description": "Run a command", "strict": False,
                     "parameters": CODEX_TOOLS[0]["parameters"]},
    }  # fmt: skip
    patch = tools[3]["function"]
    assert patch["parameters"]["required"] == ["input"] and "start: begin_patch" in patch["description"]
    assert translated.tool_names == {
        "exec_command": ToolName("function", "exec_command"),
        "mcp_fs__read": ToolName("function", "read", "mcp_fs"),
        "mcp_fs__write": ToolName("custom", "write", "mcp_fs"),
        "apply_patch": ToolName("custom", "apply_patch"),
    }
    assert translated.body["parallel_tool_calls"] is True
    assert any("web_search" in d for d in translated.dropped)
    assert "web_search" not in str(translated.body)


def test_namespaced_history_uses_the_flat_name() -> None:
    history = [
        {"type": "function_call", "call_id": "c1", "name": "read", "namespace": "mcp_fs", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]
    messages = msgs({"input": history, "tools": CODEX_TOOLS})
    assert messages[0]["tool_calls"][0]["function"]["name"] == "mcp_fs__read"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ({"type": "function", "name": "exec_command"}, {"type": "function", "function": {"name": "exec_command"}}),
        ({"type": "custom", "name": "apply_patch"}, {"type": "function", "function": {"name": "apply_patch"}}),
        ({"type": "web_search"}, "auto"),
    ],
)
def test_tool_choice(choice: object, expected: object) -> None:
    assert chat({"input": "x", "tools": CODEX_TOOLS, "tool_choice": choice})["tool_choice"] == expected


def test_tool_choice_and_parallel_left_out_without_tools() -> None:
    body = chat({"input": "x", "tools": [{"type": "web_search"}], "tool_choice": "auto", "parallel_tool_calls": True})
    assert "tool_choice" not in body and "tools" not in body and "parallel_tool_calls" not in body


def test_options_mapped_and_unknown_fields_not_sent() -> None:
    body = chat(
        {
            "input": "x",
            "max_output_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "reasoning": {"effort": "high", "summary": "auto"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
            "stream": True,
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "k",
            "metadata": {"a": "b"},
            "client_metadata": {"x": 1},
            "previous_response_id": None,
            "truncation": "auto",
        }
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 100,
        "reasoning_effort": "high",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
        },
        "stream": True,
        "stream_options": {"include_usage": True},
        "prompt_cache_key": "k",  # goes on in the pivot; a provider's compat.prompt_cache_key decides
    }
    assert "response_format" not in chat({"input": "x", "text": {"format": {"type": "text"}}})
    assert chat({"input": "x", "text": {"format": {"type": "json_object"}}})["response_format"] == {
        "type": "json_object"
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": 5}, "input"),
        ({"input": [5]}, "input[0]"),
        ({"input": [{"type": "mystery"}]}, "input"),  # dropped (a newer item type), and then nothing is left
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "function_call_output", "call_id": "ghost", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]}, "input[0].name"),
        ({"input": "x", "tools": [{"type": "function", "parameters": {}}]}, "tools[0].name"),
        (
            {"input": "x", "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "function"}]}]},
            "tools[0].tools[0].name",
        ),
        ({"input": "x", "tools": "all"}, "tools"),
        ({"input": "x", "instructions": ["a"]}, "instructions"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as info:
        responses_to_chat({"model": "m", **body})
    assert info.value.param == param


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"input": "*** Begin Patch"}', "*** Begin Patch"),
        ("*** raw text", "*** raw text"),
        ('{"other": 1}', '{"other": 1}'),
    ],
)
def test_custom_input(arguments: str, expected: str) -> None:
    assert custom_input(arguments) == expected


@pytest.mark.parametrize(
    ("item", "dropped"),
    [
        ({"type": "compaction_summary", "summary": "..."}, "input[1]: compaction_summary items have no Chat Completions form"),
        ({"role": "user", "content": [{"type": "input_text", "text": "b"}, {"type": "input_audio", "input_audio": {}}]},
         "input[1].content[1]: 'input_audio' parts have no Chat Completions form"),
        ({"role": "user", "content": [{"type": "input_text", "text": "b"}, {"type": "input_image", "file_id": "file_1"}]},
         "input[1].content[1]: 'input_image' parts have no Chat Completions form"),
        ({"role": "user", "content": [{"type": "input_text", "text": "b"}, {"type": "input_file", "file_url": "https://x/a.pdf"}]},
         "input[1].content[1]: 'input_file' parts have no Chat Completions form"),
    ],
)  # fmt: skip
def test_what_the_api_takes_and_chat_cannot_is_dropped_with_a_note(item: dict[str, Any], dropped: str) -> None:
    converted = responses_to_chat({"model": "m", "input": [{"role": "user", "content": "a"}, item]})
    assert dropped in converted.dropped
    assert converted.body["messages"][0] == {"role": "user", "content": "a"}
