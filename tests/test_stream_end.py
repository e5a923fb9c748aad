from __future__ import annotations

import json

import pytest

from proxyd.sse import SSEDecoder
from proxyd.stream_end import StreamCheck
from proxyd.wires.pivot import DONE
from proxyd.wires.registry import WIRES

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
FINISH = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'


def ev(kind: str, seq: int, named: bool = True, **extra: object) -> bytes:
    body = json.dumps({"type": kind, "sequence_number": seq, **extra})
    return (f"event: {kind}\n" if named else "").encode() + f"data: {body}\n\n".encode()


def checker(wire: str) -> StreamCheck:
    return WIRES[wire].check()


CREATED = ev("response.created", 0, response={"id": "resp_up", "object": "response", "status": "in_progress"})


@pytest.mark.parametrize(
    ("wire", "parts", "closing"),
    [
        ("chat", [CHUNK, FINISH, DONE], b""),
        ("chat", [CHUNK, FINISH, b"data:[DONE]\r\n\r\n"], b""),
        ("chat", [CHUNK, b'data: {"error": {"message": "overloaded"}}\n\n'], b""),
        ("chat", [CHUNK, FINISH], DONE),  # lax server: finished choices, no marker
        ("chat", [CHUNK], None),
        ("chat", [], None),
        ("chat", [CHUNK, FINISH[:20]], None),
        ("responses", [CREATED, ev("response.completed", 5)], b""),
        ("responses", [CREATED, ev("response.incomplete", 5)], b""),
        ("responses", [CREATED, ev("response.failed", 5)], b""),
        ("responses", [CREATED, ev("error", 1)], b""),
        ("responses", [CREATED, ev("response.completed", 5, named=False)], b""),
        ("responses", [CREATED, ev("response.output_text.delta", 1)], None),
        ("responses", [CREATED, ev("response.completed", 5)[:30]], None),
    ],
)
def test_closing(wire: str, parts: list[bytes], closing: bytes | None) -> None:
    check = checker(wire)
    for part in parts:
        for i in range(0, len(part), 7):  # cut anywhere
            check.feed(part[i : i + 7])
    assert check.closing() == closing


def decode(data: bytes) -> list[dict[str, object]]:
    decoder = SSEDecoder()
    return [json.loads(e.data) for e in decoder.feed(data) + decoder.flush()]


def test_chat_failure_is_an_error_data_line() -> None:
    check = checker("chat")
    check.feed(CHUNK)
    out = check.failure("provider 'p' ended the stream early", "stream_incomplete", "resp_x")
    assert decode(out) == [
        {
            "error": {
                "message": "provider 'p' ended the stream early",
                "type": "upstream_error",
                "code": "stream_incomplete",
                "param": None,
            }
        }
    ]


def test_responses_failure_continues_the_sequence_and_keeps_the_response_id() -> None:
    check = checker("responses")
    check.feed(CREATED + ev("response.output_text.delta", 4))
    out = check.failure("cut", "stream_incomplete", "resp_local")
    assert out.startswith(b"event: response.failed\n")
    [event] = decode(out)
    assert event["type"] == "response.failed" and event["sequence_number"] == 5
    response = event["response"]
    assert isinstance(response, dict)
    assert (response["id"], response["status"]) == ("resp_up", "failed")
    assert response["error"] == {"code": "server_error", "message": "cut"}


def test_failure_after_a_half_event_starts_a_fresh_event() -> None:
    check = checker("responses")
    check.feed(b"event: response.output_text.delta\n")
    out = check.failure("cut", "stream_incomplete", "resp_local")
    assert out.startswith(b"\n\nevent: response.failed\n")
    assert json.loads(out.split(b"data: ", 1)[1])["response"]["id"] == "resp_local"
