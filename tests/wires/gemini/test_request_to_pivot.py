"""A Gemini request in the pivot's form: what Gemini CLI 0.61 sends (shared/GEMINI-WIRE.md), and
each part, tool and setting as a table (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.wires.errors import TranslationError
from proxyd.wires.gemini.request_to_pivot import gemini_to_chat, openapi_to_json_schema

SHELL = {"name": "run_shell_command", "description": "Runs a shell command.",
         "parametersJsonSchema": {"type": "object", "properties": {"command": {"type": "string"}},
                                  "required": ["command"]}}  # fmt: skip

# A second turn of Gemini CLI's, as 0.61 sends it: its system instruction with role "user", every
# declaration with parametersJsonSchema, its sampling, a replayed call with the id it invents and
# the signature it puts on gemini-2.5 calls, and the output wrapped in <untrusted_context>.
CLI_TURN: dict[str, Any] = {
    "model": "gemini-2.5-pro",
    "systemInstruction": {"role": "user", "parts": [{"text": "You are an interactive CLI agent."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "<session_context>cwd: /repo</session_context>"}, {"text": "list the files"}]},
        {"role": "model", "parts": [
            {"text": "Listing the files.", "thought": True},
            {"functionCall": {"id": "run_shell_command_1765000000000_0", "name": "run_shell_command",
                              "args": {"command": "ls"}}, "thoughtSignature": "skip_thought_signature_validator"},
        ]},
        {"role": "user", "parts": [{"functionResponse": {
            "id": "run_shell_command_1765000000000_0", "name": "run_shell_command",
            "response": {"output": "<untrusted_context>a.py\nb.py</untrusted_context>"}}}]},
    ],
    "tools": [{"functionDeclarations": [SHELL, {"name": "read_file", "parametersJsonSchema": {"type": "object"}}]}],
    "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64,
                         "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192}},
    "stream": True,
}  # fmt: skip


def test_a_gemini_cli_turn() -> None:
    pivoted = gemini_to_chat(CLI_TURN)
    chat = pivoted.body
    assert chat["model"] == "gemini-2.5-pro" and chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}
    assert chat["messages"] == [
        {"role": "system", "content": "You are an interactive CLI agent."},
        {"role": "user", "content": "<session_context>cwd: /repo</session_context>list the files"},
        {"role": "assistant", "content": None, "reasoning_content": "Listing the files.", "tool_calls": [
            {"id": "run_shell_command_1765000000000_0", "type": "function",
             "function": {"name": "run_shell_command", "arguments": '{"command": "ls"}'}}]},
        {"role": "tool", "tool_call_id": "run_shell_command_1765000000000_0",
         "content": "<untrusted_context>a.py\nb.py</untrusted_context>"},
    ]  # fmt: skip
    assert [t["function"]["name"] for t in chat["tools"]] == ["run_shell_command", "read_file"]
    assert chat["tools"][0]["function"]["parameters"] == SHELL["parametersJsonSchema"]
    assert (chat["temperature"], chat["top_p"], chat["reasoning_effort"]) == (1, 0.95, "medium")
    # a signature proxyd did not issue goes to no provider, and topK has no chat form
    assert set(pivoted.dropped) == {"thoughtSignature", "generationConfig.topK"}


def test_calls_without_ids_pair_with_their_responses_by_name_and_order() -> None:
    body = {"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "ls", "args": {"d": "a"}}},
                                    {"functionCall": {"name": "cat", "args": {}}},
                                    {"functionCall": {"name": "ls", "args": {"d": "b"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "ls", "response": {"output": "A"}}},
                                   {"functionResponse": {"name": "ls", "response": {"output": "B"}}},
                                   {"functionResponse": {"name": "cat", "response": {"error": "no file"}}}]},
    ]}  # fmt: skip
    messages = gemini_to_chat(body).body["messages"]
    ids = [c["id"] for c in messages[1]["tool_calls"]]
    assert ids == ["ls_1_0", "cat_1_1", "ls_1_2"]
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [
        ("ls_1_0", "A"), ("ls_1_2", "B"), ("cat_1_1", '{"error": "no file"}')]  # fmt: skip
    assert gemini_to_chat(body).body["messages"] == messages  # the same ids every time: a turn replays alike


@pytest.mark.parametrize(
    ("part", "content", "dropped"),
    [
        ({"text": "hi"}, "hi", ()),
        ({"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
         [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}], ()),
        ({"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.example/a.jpg"}},
         [{"type": "image_url", "image_url": {"url": "https://x.example/a.jpg"}}], ()),
        ({"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}}, None, ("contents[0] part application/pdf",)),
        ({"executableCode": {"language": "PYTHON", "code": "1"}}, None, ("contents[0] part executableCode",)),
        ({"text": "pondering", "thought": True}, None, ()),  # a user's thought part says nothing to a model
    ],
)  # fmt: skip
def test_user_parts(part: dict[str, Any], content: Any, dropped: tuple[str, ...]) -> None:
    pivoted = gemini_to_chat({"contents": [{"role": "user", "parts": [part]}]})
    expected = [] if content is None else [{"role": "user", "content": content}]
    assert pivoted.body["messages"] == expected and pivoted.dropped == dropped


@pytest.mark.parametrize(
    ("config", "tools", "choice"),
    [
        (None, ["a", "b"], None),
        ({"mode": "AUTO"}, ["a", "b"], None),
        ({"mode": "ANY"}, ["a", "b"], "required"),
        ({"mode": "ANY", "allowedFunctionNames": ["b"]}, ["b"], {"type": "function", "function": {"name": "b"}}),
        ({"mode": "NONE"}, ["a", "b"], "none"),
        ({"mode": "VALIDATED"}, ["a", "b"], None),
        ({"mode": "AUTO", "allowedFunctionNames": ["a"]}, ["a"], None),
    ],
)  # fmt: skip
def test_tool_config(config: dict[str, Any] | None, tools: list[str], choice: Any) -> None:
    body: dict[str, Any] = {"contents": [{"parts": [{"text": "x"}]}],
                            "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}, {"googleSearch": {}}]}  # fmt: skip
    if config is not None:
        body["toolConfig"] = {"functionCallingConfig": config}
    pivoted = gemini_to_chat(body)
    assert [t["function"]["name"] for t in pivoted.body["tools"]] == tools
    assert pivoted.body.get("tool_choice") == choice and "googleSearch" in pivoted.dropped


def test_openapi_schemas_become_json_schema() -> None:
    schema = {"type": "OBJECT", "properties": {"path": {"type": "STRING", "nullable": True},
                                               "lines": {"type": "ARRAY", "items": {"type": "INTEGER"}}},
              "required": ["path"]}  # fmt: skip
    assert openapi_to_json_schema(schema) == {
        "type": "object", "properties": {"path": {"type": ["string", "null"]},
                                         "lines": {"type": "array", "items": {"type": "integer"}}},
        "required": ["path"]}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"maxOutputTokens": 100, "stopSequences": ["END"], "seed": 7}, {"max_tokens": 100, "stop": ["END"], "seed": 7}),
        ({"responseMimeType": "application/json"}, {"response_format": {"type": "json_object"}}),
        ({"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT"}},
         {"response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}}}),
        ({"responseJsonSchema": {"type": "object"}},
         {"response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}}}),
        ({"thinkingConfig": {"thinkingLevel": "HIGH"}}, {"reasoning_effort": "high"}),
        ({"thinkingConfig": {"thinkingLevel": "low"}}, {"reasoning_effort": "low"}),
        ({"thinkingConfig": {"thinkingBudget": 0}}, {"reasoning_effort": "none"}),
        ({"thinkingConfig": {"thinkingBudget": 1024}}, {"reasoning_effort": "low"}),
        ({"thinkingConfig": {"thinkingBudget": 24576}}, {"reasoning_effort": "high"}),
        ({"thinkingConfig": {"thinkingBudget": -1}}, {}),  # dynamic: the server's own
        ({"candidateCount": 1}, {}),
    ],
)  # fmt: skip
def test_generation_config(config: dict[str, Any], expected: dict[str, Any]) -> None:
    body = gemini_to_chat({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": config}).body
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": [{"role": "user"}]}, "contents[0].parts"),
        ({"contents": [{"role": "user", "parts": [{}]}]}, "contents[0].parts[0]"),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}},
         "generationConfig.candidateCount"),
        ({"contents": [{"parts": [{"text": "x"}]}], "systemInstruction": {"text": "x"}}, "systemInstruction"),
    ],
)  # fmt: skip
def test_what_the_api_refuses_is_named(body: dict[str, Any], field: str) -> None:
    with pytest.raises(TranslationError) as refused:
        gemini_to_chat(body)
    assert refused.value.param == field


def test_an_unknown_role_is_read_as_the_user_with_a_note() -> None:
    pivoted = gemini_to_chat({"contents": [{"role": "developer", "parts": [{"text": "x"}]}]})
    assert pivoted.body["messages"] == [{"role": "user", "content": "x"}]
    assert pivoted.dropped == ("contents[0].role developer (read as user)",)


def test_the_apis_proto_names_are_taken_as_its_json_names() -> None:
    """The google-genai SDK sends thinking_config's fields in snake_case; the API takes both."""
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
            "generation_config": {"max_output_tokens": 9, "thinkingConfig": {"include_thoughts": True, "thinking_budget": 0}},
            "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema": {
                "type": "object", "properties": {"snake_case_arg": {"type": "string"}}}}]}]}  # fmt: skip
    chat = gemini_to_chat(body).body
    assert (chat["max_tokens"], chat["reasoning_effort"]) == (9, "none")
    assert chat["tools"][0]["function"]["parameters"]["properties"] == {"snake_case_arg": {"type": "string"}}
