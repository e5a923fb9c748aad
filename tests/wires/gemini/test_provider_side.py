"""The Gemini wire as a provider's (pure): a pivot request as Gemini's, Gemini's answers and
streams as the pivot's, and thought signatures carried in call ids, both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxyd.wires.errors import TranslationError
from proxyd.wires.gemini.request_from_pivot import chat_to_gemini
from proxyd.wires.gemini.request_to_pivot import gemini_to_chat
from proxyd.wires.gemini.signatures import MARK, SKIP, signed_id, unsigned
from proxyd.wires.gemini.to_pivot import GeminiDecoder, answer_to_chat, usage_to_chat
from proxyd.wires.pivot import END

SIGNATURE = "CiQBcsjafP7+/sig=="


@pytest.mark.parametrize("call_id", ["call_1", "toolu_01AbC", "run_shell_command_1765_0", ""])
def test_a_signature_rides_in_an_id_and_comes_back(call_id: str) -> None:
    carried = signed_id(call_id, SIGNATURE)
    assert MARK in carried and all(c.isalnum() or c in "_-" for c in carried)  # Anthropic's tool-id charset
    assert unsigned(carried) == (call_id, SIGNATURE)
    assert signed_id(call_id, None) == call_id and unsigned(call_id) == (call_id, None)


def test_only_proxyds_mark_is_read_back() -> None:
    assert unsigned("call_1__pxsig_%%%") == ("call_1__pxsig_%%%", None)
    assert unsigned("call_1__sig_abc") == ("call_1__sig_abc", None)


CHAT = {
    "model": "gemini-3-pro-preview",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "what is in it?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
        {"role": "assistant", "content": "Looking.", "reasoning_content": "hmm", "tool_calls": [
            {"id": signed_id("c1", SIGNATURE), "type": "function", "function": {"name": "ls", "arguments": '{"d": "."}'}},
            {"id": "toolu_9", "type": "function", "function": {"name": "cat", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": signed_id("c1", SIGNATURE), "content": "a.py"},
        {"role": "tool", "tool_call_id": "toolu_9", "content": '{"error": "no file"}'},
        {"role": "user", "content": "and now?"},
    ],
    "tools": [{"type": "function", "function": {"name": "ls", "description": "List.", "parameters": {"type": "object"}}},
              {"type": "function", "function": {"name": "cat", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "ls"}},
    "max_tokens": 500, "temperature": 0.2, "stop": "END", "reasoning_effort": "high",
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
}  # fmt: skip


def test_a_pivot_request_as_gemini_takes_it() -> None:
    out = chat_to_gemini(CHAT)
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "what is in it?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}]},
        {"role": "model", "parts": [
            {"text": "Looking."},
            {"functionCall": {"name": "ls", "args": {"d": "."}, "id": "c1"}, "thoughtSignature": SIGNATURE},
            {"functionCall": {"name": "cat", "args": {}, "id": "toolu_9"}, "thoughtSignature": SKIP}]},
        {"role": "user", "parts": [  # the results of one turn in one content, then what the user adds
            {"functionResponse": {"name": "ls", "response": {"output": "a.py"}, "id": "c1"}},
            {"functionResponse": {"name": "cat", "response": {"error": "no file"}, "id": "toolu_9"}},
            {"text": "and now?"}]},
    ]  # fmt: skip
    assert out["tools"] == [{"functionDeclarations": [
        {"name": "ls", "description": "List.", "parametersJsonSchema": {"type": "object"}},
        {"name": "cat", "parametersJsonSchema": {"type": "object"}}]}]  # fmt: skip
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["ls"]}}
    assert out["generationConfig"] == {
        "temperature": 0.2, "maxOutputTokens": 500, "stopSequences": ["END"], "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"}, "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "HIGH"}}  # fmt: skip
    assert "model" not in out and "stream" not in out  # both go in the path


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", "low", {"includeThoughts": True, "thinkingBudget": 1024}),
        ("gemini-2.5-pro", "medium", {"includeThoughts": True, "thinkingBudget": 8192}),
        ("models/gemini-3-flash", "low", {"includeThoughts": True, "thinkingLevel": "LOW"}),
        ("gemini-2.5-flash", "none", {"includeThoughts": False, "thinkingBudget": 0}),
    ],
)
def test_reasoning_effort_as_gemini_thinking(model: str, effort: str, thinking: dict[str, Any]) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}
    assert chat_to_gemini(body)["generationConfig"]["thinkingConfig"] == thinking


@pytest.mark.parametrize(
    ("chat", "field"),
    [({"messages": []}, "messages"), ({"messages": [{"role": "critic", "content": "x"}]}, "messages[0].role"),
     ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content")],
)  # fmt: skip
def test_what_cannot_be_sent_is_named(chat: dict[str, Any], field: str) -> None:
    with pytest.raises(TranslationError) as refused:
        chat_to_gemini(chat)
    assert refused.value.param == field


ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "Thinking it over.", "thought": True},
        {"text": "Let me look."},
        {"functionCall": {"name": "ls", "args": {"d": "."}}, "thoughtSignature": SIGNATURE},
    ]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
                      "cachedContentTokenCount": 64, "totalTokenCount": 150},
    "modelVersion": "gemini-2.5-pro", "responseId": "abc",
}  # fmt: skip


def test_a_whole_gemini_answer_as_the_pivots() -> None:
    out = answer_to_chat(ANSWER, model="m", created=7)
    message = out["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("Let me look.", "Thinking it over.")
    call = message["tool_calls"][0]
    assert call["function"] == {"name": "ls", "arguments": '{"d": "."}'}
    assert unsigned(call["id"]) == ("call_abc_0", SIGNATURE)  # the signature travels with the call
    assert out["choices"][0]["finish_reason"] == "tool_calls"  # Gemini says STOP for a call
    assert out["usage"] == {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                            "prompt_tokens_details": {"cached_tokens": 64},
                            "completion_tokens_details": {"reasoning_tokens": 30}}  # fmt: skip
    assert out["model"] == "gemini-2.5-pro"


@pytest.mark.parametrize(
    ("answer", "finish"),
    [
        ({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]}, "length"),
        ({"candidates": [{"content": {"parts": []}, "finishReason": "SAFETY"}]}, "content_filter"),
        ({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "OTHER"}]}, "stop"),
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "content_filter"),  # no candidate at all
    ],
)  # fmt: skip
def test_finish_reasons(answer: dict[str, Any], finish: str) -> None:
    assert answer_to_chat(answer, model="m", created=0)["choices"][0]["finish_reason"] == finish


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)


def test_a_gemini_stream_as_pivot_items() -> None:
    decoder = GeminiDecoder(model="m", created=1)
    raw = sse(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "pondering", "thought": True}]}}], "responseId": "r9"},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"},
            {"functionCall": {"id": "f1", "name": "ls", "args": {}}, "thoughtSignature": SIGNATURE}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "pwd", "args": {}}}]},
                         "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}},
    )  # fmt: skip
    items = decoder.feed(raw[:50]) + decoder.feed(raw[50:]) + decoder.flush()  # split anywhere
    assert items[-1] is END and decoder.ended
    deltas = [c["choices"][0]["delta"] for c in items[:-2]]
    assert deltas[0] == {"role": "assistant", "reasoning_content": "pondering"}
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert [(c["index"], unsigned(c["id"]), c["function"]["name"]) for c in calls] == [
        (0, ("f1", SIGNATURE), "ls"), (1, ("call_chatcmpl-r9_1", None), "pwd")]  # fmt: skip
    assert items[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert items[-2]["usage"] == usage_to_chat({"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8})


def test_a_gemini_stream_that_ends_without_a_finish_reason_is_an_error() -> None:
    decoder = GeminiDecoder(model="m", created=1)
    items = decoder.feed(sse({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})) + decoder.flush()
    assert items[-1]["error"]["message"] == "the provider ended the stream without a finish reason"


def test_googles_error_midstream_is_an_error_item() -> None:
    decoder = GeminiDecoder(model="m", created=1)
    items = decoder.feed(sse({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}))
    assert items == [{"error": {"message": "provider error: The model is overloaded.", "type": "upstream_error",
                                "code": "UNAVAILABLE", "param": None}}]  # fmt: skip


def test_a_gemini_cli_turn_crosses_to_a_gemini_provider_and_back_unchanged_in_meaning() -> None:
    """Gemini client → pivot → Gemini provider: what the provider gets says what the client said."""
    client = {"model": "gemini-2.5-pro", "contents": [
        {"role": "user", "parts": [{"text": "list"}]},
        {"role": "model", "parts": [{"functionCall": {"id": "f1", "name": "ls", "args": {"d": "."}}}]},
        {"role": "user", "parts": [{"functionResponse": {"id": "f1", "name": "ls", "response": {"output": "a"}}}]}],
        "tools": [{"functionDeclarations": [{"name": "ls", "parametersJsonSchema": {"type": "object"}}]}]}  # fmt: skip
    sent = chat_to_gemini(gemini_to_chat(client).body)
    assert sent["contents"][1]["parts"][0]["functionCall"] == {"name": "ls", "args": {"d": "."}, "id": "f1"}
    assert sent["contents"][2]["parts"][0]["functionResponse"] == {
        "name": "ls",
        "response": {"output": "a"},
        "id": "f1",
    }
    assert sent["tools"] == client["tools"]
