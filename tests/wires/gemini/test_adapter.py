"""The Gemini adapter in whole exchanges, through the pivot and the other wires' adapters (pure):
a Gemini client in front of a chat provider, an Anthropic client in front of a Gemini provider
(its thought signature back on the next turn), and the relay's stream check."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxyd.wires.anthropic import ANTHROPIC
from proxyd.wires.chat import CHAT
from proxyd.wires.gemini import GEMINI, GeminiWire
from proxyd.wires.gemini.signatures import SKIP
from proxyd.wires.registry import Wire
from proxyd.wires.translator import StreamTranslator
from proxyd.wires.turn import Turn
from tests.fakes import chat_chunk
from tests.wires.gemini.test_request_to_pivot import CLI_TURN

SIGNATURE = "CiQBcsjafP7sig"


def test_the_adapter_offers_what_every_wire_does() -> None:
    wire: Wire = GEMINI  # the protocol, as the registry will hold it
    assert wire.name == "gemini" and not wire.stateful and wire.fallback is None


@pytest.mark.parametrize(
    ("model", "stream", "path", "query"),
    [
        ("gemini-2.5-pro", True, "/models/gemini-2.5-pro:streamGenerateContent", "alt=sse"),
        ("models/gemini-2.5-flash", False, "/models/gemini-2.5-flash:generateContent", ""),
        ("tuned/my model", False, "/models/tuned%2Fmy%20model:generateContent", ""),
    ],
)
def test_upstream_path(model: str, stream: bool, path: str, query: str) -> None:
    assert GeminiWire().upstream_path(model, stream) == (path, query)


def events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().split("\n") if line.startswith("data: ")]


def test_gemini_cli_in_front_of_a_chat_provider_gets_its_stream() -> None:
    pivoted = GEMINI.to_pivot(CLI_TURN)
    sent = CHAT.from_pivot(pivoted.body)
    assert sent["messages"][-1]["role"] == "tool" and sent["stream"] is True
    turn = Turn(CLI_TURN, "resp_1", "gemini-2.5-pro", 1)
    translator = StreamTranslator(CHAT.decoder(turn), GEMINI.encoder(turn))
    upstream = b"".join([
        chat_chunk({"role": "assistant", "reasoning_content": "Two files."}),
        chat_chunk({"content": "There are "}), chat_chunk({"content": "two files."}),
        chat_chunk({}, "stop"), chat_chunk(None, usage={"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46}),
        b"data: [DONE]\n\n",
    ])  # fmt: skip
    out = translator.start() + translator.feed(upstream) + translator.finish()
    got = events(out)
    parts = [p for e in got for p in e["candidates"][0]["content"]["parts"]]
    assert parts == [{"text": "Two files.", "thought": True}, {"text": "There are "}, {"text": "two files."}]
    assert got[-1]["candidates"][0]["finishReason"] == "STOP"  # Gemini CLI needs it, or it fails the turn
    assert got[-1]["usageMetadata"] == {"promptTokenCount": 40, "candidatesTokenCount": 6, "totalTokenCount": 46}


def test_a_chat_provider_cut_midstream_reaches_gemini_cli_as_an_error() -> None:
    turn = Turn(CLI_TURN, "resp_1", "gemini-2.5-pro", 1)
    translator = StreamTranslator(CHAT.decoder(turn), GEMINI.encoder(turn))
    out = translator.feed(chat_chunk({"content": "There are "})) + translator.fail("the provider went away")
    last = events(out)[-1]
    assert last["error"]["status"] == "UNAVAILABLE" and "finishReason" not in json.dumps(last)


def test_claude_code_in_front_of_a_gemini_provider_keeps_the_signature_across_turns() -> None:
    ask = {"model": "gemini-3-pro-preview", "max_tokens": 1000, "stream": True,
           "messages": [{"role": "user", "content": "list the files"}],
           "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]}  # fmt: skip
    sent = GEMINI.from_pivot(ANTHROPIC.to_pivot(ask).body)
    assert sent["stream"] is True and GEMINI.whole(sent).get("stream") is None
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "Bash"
    turn = Turn(ask, "resp_1", "gemini-3-pro-preview", 1)
    translator = StreamTranslator(GEMINI.decoder(turn), ANTHROPIC.encoder(turn))
    answer = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": SIGNATURE}]},
        "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5}, "responseId": "g1"}  # fmt: skip
    out = translator.start() + translator.feed(f"data: {json.dumps(answer)}\r\n\r\n".encode()) + translator.finish()
    frames = [json.loads(line[6:]) for line in out.decode().split("\n") if line.startswith("data: ")]
    tool = next(f["content_block"] for f in frames if f["type"] == "content_block_start")
    assert tool["type"] == "tool_use" and tool["name"] == "Bash"
    assert next(f for f in frames if f["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"
    # Claude Code's next turn sends the call back by its id, and the result: the signature returns with it
    follow = {**ask, "messages": [*ask["messages"],
              {"role": "assistant", "content": [{"type": "tool_use", "id": tool["id"], "name": "Bash", "input": {"command": "ls"}}]},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool["id"], "content": "a.py"}]}]}  # fmt: skip
    again = GEMINI.from_pivot(ANTHROPIC.to_pivot(follow).body)
    call_part, answer_part = again["contents"][1]["parts"][0], again["contents"][2]["parts"][0]
    assert call_part["thoughtSignature"] == SIGNATURE and call_part["functionCall"]["name"] == "Bash"
    assert answer_part["functionResponse"] == {"name": "Bash", "response": {"output": "a.py"},
                                               "id": call_part["functionCall"]["id"]}  # fmt: skip


def test_a_call_made_elsewhere_goes_to_gemini_with_googles_stand_in_not_a_foreign_signature() -> None:
    chat = {"model": "gemini-3-flash", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "toolu_01X", "type": "function",
                                                               "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_01X", "content": "ok"}]}  # fmt: skip
    part = GEMINI.from_pivot(chat)["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == SKIP and part["functionCall"]["id"] == "toolu_01X"


def test_a_relayed_gemini_stream_is_checked() -> None:
    check = GEMINI.check()
    check.feed(b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}\r\n\r\n')
    assert check.closing() is None  # cut before a finishReason: failed
    assert events(check.failure("cut", "stream_incomplete", "r"))[0]["error"]["status"] == "UNAVAILABLE"
    whole = GEMINI.check()
    whole.feed(b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],'
               b' "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}\r\n\r\n')  # fmt: skip
    assert whole.closing() == b""
    usage = whole.usage()
    assert usage is not None and (usage.prompt, usage.completion) == (3, 1)


def test_a_whole_answer_replays_as_one_chunk_and_counts_its_usage() -> None:
    answer = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
              "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "thoughtsTokenCount": 2}}  # fmt: skip
    assert events(GEMINI.replay(answer, include_usage=True)) == [answer]
    usage = GEMINI.usage(answer["usageMetadata"])
    assert usage is not None and (usage.prompt, usage.completion, usage.reasoning) == (3, 3, 2)


def test_fit_lowers_max_output_tokens_to_the_models_limit() -> None:
    from proxyd.config.settings import ModelEntry, Provider

    body = {"contents": [], "generationConfig": {"maxOutputTokens": 65536, "temperature": 1}}
    fitted, notes = GEMINI.fit(body, Provider("g", "https://x"), ModelEntry("m", max_output_tokens=8192))
    assert fitted == {"contents": [], "generationConfig": {"maxOutputTokens": 8192, "temperature": 1}}
    assert notes == ["maxOutputTokens 65536 lowered to the model's 8192"]
    assert GEMINI.fit(body, Provider("g", "https://x"), None) == (None, [])


def test_count_tokens_estimates_from_the_text() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "x" * 400}]}]}
    assert GEMINI.count_tokens(body) == 100 and GEMINI.count_tokens({"generateContentRequest": body}) == 100
