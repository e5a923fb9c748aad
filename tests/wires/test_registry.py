"""Every pair of registered wires, through the pivot: a client request reaches the provider's
form, a provider's stream and whole answer reach the client's form, and the client's own stream
check accepts what comes out. A new wire is covered once it adds its samples here."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

import pytest

from proxyd.errors import ProxyError
from proxyd.sse import SSEDecoder, encode_event
from proxyd.wires import pivot
from proxyd.wires.registry import WIRES, client_wire, stream_wire
from proxyd.wires.translator import StreamTranslator
from proxyd.wires.turn import Turn


def _chat_stream() -> bytes:
    deltas = [{"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}]
    chunks = [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]  # fmt: skip
    chunks.append({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
    return b"".join(encode_event(json.dumps(c)) for c in chunks) + pivot.DONE


def _responses_stream() -> bytes:
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    done = {**msg, "status": "completed", "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}
    response = {"id": "resp_up", "object": "response", "status": "in_progress", "output": []}
    usage = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.output_item.added", "output_index": 0, "item": msg},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel"},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "lo"},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": {**response, "status": "completed", "output": [done], "usage": usage}},
    ]  # fmt: skip
    return b"".join(encode_event(json.dumps({**e, "sequence_number": i}), e["type"]) for i, e in enumerate(events))


def _anthropic_stream() -> bytes:
    message = {
        "id": "msg_up",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "m",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return b"".join(encode_event(json.dumps(e), e["type"]) for e in events)


def _gemini_stream() -> bytes:
    chunks: list[dict[str, Any]] = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}], "responseId": "g1"},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "index": 0, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}, "responseId": "g1"},
    ]  # fmt: skip
    return b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)  # Google ends lines with CRLF


# Per wire: a client request, a provider's stream of the answer "Hello", and its whole answer.
SAMPLES: dict[str, tuple[dict[str, Any], bytes, dict[str, Any]]] = {
    "chat": (
        {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": [{"role": "user", "content": "hi"}]},
        _chat_stream(),
        {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ),
    "responses": (
        {"model": "m", "stream": True, "input": "hi"},
        _responses_stream(),
        {"id": "resp_up", "object": "response", "status": "completed", "created_at": 1, "model": "m",
         "output": [{"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                     "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}],
         "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}},
    ),
    "anthropic": (
        {"model": "m", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        _anthropic_stream(),
        {"id": "msg_up", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
         "stop_sequence": None, "content": [{"type": "text", "text": "Hello"}],
         "usage": {"input_tokens": 3, "output_tokens": 2}},
    ),
    "gemini": (  # the model and streaming come from the path: the app puts them in the body
        {"model": "m", "stream": True, "contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        _gemini_stream(),
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}, "finishReason": "STOP",
                         "index": 0}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
         "modelVersion": "m", "responseId": "g1"},
    ),
}  # fmt: skip
PAIRS = list(permutations(WIRES, 2))


def test_every_wire_has_samples_and_owns_its_endpoints() -> None:
    assert set(SAMPLES) == set(WIRES)
    for name, wire in WIRES.items():
        assert client_wire(wire.endpoints[0]) is wire and all(stream_wire(e) is wire for e in wire.endpoints)
        assert wire.name == name and wire.path.startswith("/")


def turn_for(client: str) -> Turn:
    request = SAMPLES[client][0]
    pivoted = WIRES[client].to_pivot(request)
    return Turn(request, "resp_t", "m", 1, pivoted.tool_names, WIRES[client].wants_usage(request))


@pytest.mark.parametrize(("client", "provider"), PAIRS)
def test_a_request_crosses(client: str, provider: str) -> None:
    pivoted = WIRES[client].to_pivot(SAMPLES[client][0])
    sent = WIRES[provider].from_pivot(pivoted.body)
    assert sent["model"] == "m" and sent.get("stream") is True
    assert "stream" not in WIRES[provider].whole(sent)


@pytest.mark.parametrize(("client", "provider"), PAIRS)
@pytest.mark.parametrize("cut", [1, 7, 10_000])
def test_a_stream_crosses_and_ends_the_clients_way(client: str, provider: str, cut: int) -> None:
    turn = turn_for(client)
    translator = StreamTranslator(WIRES[provider].decoder(turn), WIRES[client].encoder(turn))
    upstream = SAMPLES[provider][1]
    out = translator.start() + b"".join(translator.feed(upstream[i : i + cut]) for i in range(0, len(upstream), cut))
    out += translator.finish()
    check = WIRES[client].check()
    check.feed(out)
    assert check.closing() == b""  # the client's own rules say it ended as a stream should
    text = _text_of(out)
    assert 0 < text.index('"Hel"') < text.index('"lo"') and translator.usage is not None


@pytest.mark.parametrize(("client", "provider"), PAIRS)
def test_a_broken_stream_ends_in_the_clients_error_event(client: str, provider: str) -> None:
    turn = turn_for(client)
    translator = StreamTranslator(WIRES[provider].decoder(turn), WIRES[client].encoder(turn))
    upstream = SAMPLES[provider][1]
    out = translator.start() + translator.feed(upstream[: len(upstream) // 2]) + translator.fail("connection reset")
    assert b"connection reset" in out
    check = WIRES[client].check()
    check.feed(out)
    assert check.closing() == b""  # an error event is an end, not a cut
    assert translator.fail("again") in (b"", out[-len(translator.fail("again")) :])


@pytest.mark.parametrize(("client", "provider"), PAIRS)
def test_a_whole_answer_crosses(client: str, provider: str) -> None:
    turn = turn_for(client)
    completion = WIRES[provider].answer_to_pivot(SAMPLES[provider][2], turn)
    answer = WIRES[client].answer_from_pivot(completion, turn)
    assert "Hello" in json.dumps(answer)
    assert answer[WIRES[client].answer_key]


def _text_of(stream: bytes) -> str:
    decoder = SSEDecoder()
    return "".join(e.data for e in decoder.feed(stream) + decoder.flush())


@pytest.mark.parametrize("name", list(WIRES))
def test_each_wire_words_its_probe_and_its_errors(name: str) -> None:
    wire = WIRES[name]
    probe = wire.probe_body("m")
    assert probe["model"] == "m" and probe["stream"] is True
    assert wire.to_pivot(probe).body["model"] == "m"  # its own adapter takes it
    body = wire.error_body(ProxyError(404, "no such model", code="model_not_found"))
    assert "no such model" in json.dumps(body)
