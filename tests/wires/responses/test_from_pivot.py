"""ResponsesEncoder: chat stream bytes in, Responses stream bytes out."""

from __future__ import annotations

import json

import pytest

from proxyd.sse import SSEDecoder, encode_event
from proxyd.wires.chat import ChatDecoder
from proxyd.wires.pivot import DONE
from proxyd.wires.responses.from_pivot import ResponsesEncoder
from proxyd.wires.responses.machine import ChatToResponsesStream
from proxyd.wires.translator import StreamTranslator

REQUEST = {"model": "m", "input": "hi", "stream": True}
TEXTS = ["plain", 'say "hi"', "back\\slash", "two\nlines\r\n", "naïve 日本 🙂", "\u2028\x00\t", "</think>"]


def chat_stream(texts: list[str]) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]} for t in texts]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return b"".join(encode_event(json.dumps(c)) for c in chunks) + DONE


def responses_stream_of_chat() -> StreamTranslator:
    """Chat stream bytes in, Responses stream bytes out (through the pivot)."""
    return StreamTranslator(ChatDecoder(), ResponsesEncoder(machine()))


def machine() -> ChatToResponsesStream:
    return ChatToResponsesStream(REQUEST, response_id="resp_1", tool_names={}, created_at=1, clock=lambda: 1.0)


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[::-1], ["x"] * 5])
def test_bytes_are_the_events_encoded_one_by_one(texts: list[str]) -> None:
    """Each event goes out alone, named by its type, and reads back as the machine made it:
    quotes, escapes, line breaks, U+2028, NUL and emoji in the text survive the encoding."""
    encoder = responses_stream_of_chat()
    got = encoder.start() + encoder.feed(chat_stream(texts)) + encoder.finish()
    reference = machine()
    events = reference.start() + [e for data in _payloads(chat_stream(texts)) for e in reference.feed(data)]
    assert got.endswith(DONE)
    sent = SSEDecoder().feed(got.removesuffix(DONE))
    assert [(e.event, json.loads(e.data)) for e in sent] == [(e["type"], e) for e in events]


def _payloads(stream: bytes) -> list[str]:
    return [block.removeprefix(b"data: ").decode() for block in stream.split(b"\n\n") if block]


@pytest.mark.parametrize("cut", [1, 7, 40, 10_000])
def test_the_terminal_event_waits_for_finish(cut: int) -> None:
    encoder, stream = responses_stream_of_chat(), chat_stream(["a", "b"])
    fed = b"".join(encoder.feed(stream[i : i + cut]) for i in range(0, len(stream), cut))
    assert encoder.ended and b"response.completed" not in fed and b"[DONE]" not in fed
    tail = encoder.finish()
    assert tail.startswith(b"event: response.completed\n") and tail.endswith(DONE)
    assert encoder.fail("late") == tail  # a failure after the end changes nothing


def test_not_ended_until_the_chat_stream_says_so() -> None:
    encoder = responses_stream_of_chat()
    encoder.feed(chat_stream(["a"])[: -len(DONE)])
    assert not encoder.ended
    tail = encoder.finish()  # the upstream closed after finish_reason, without [DONE]: complete
    assert b"event: response.completed\n" in tail and tail.endswith(DONE)
