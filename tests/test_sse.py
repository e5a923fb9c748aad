from __future__ import annotations

import json

import pytest

from proxyd.sse import SSEDecoder, SSEEvent, encode_event, json_event

STREAM = (
    b"\xef\xbb\xbf: keepalive comment\r\n"
    b"event: response.created\r\n"
    b'data: {"a": 1}\r\n'
    b"\r\n"
    b"data:no-space\n"
    b"data:  two spaces\n"
    b"id: 7\n"
    b"\n"
    b"event: lonely-event-without-data\n"
    b"\n"
    b"data: caf\xc3\xa9\r"
    b"\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": 1}', "response.created"),
    SSEEvent("no-space\n two spaces", "", "7"),
    SSEEvent("caf\u00e9", "", "7"),
    SSEEvent("[DONE]", "", "7"),
]


def decode_in_pieces(data: bytes, size: int) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = []
    for i in range(0, len(data), size):
        events += decoder.feed(data[i : i + size])
    return events + decoder.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_decoder_gives_the_same_events_however_the_bytes_are_cut(size: int) -> None:
    assert decode_in_pieces(STREAM, size) == EXPECTED


def test_cr_then_lf_in_the_next_read_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == [SSEEvent("a")]  # the event ends at that CR: no wait for an LF
    assert decoder.feed(b"\n") == []  # that CR's LF, not a second blank line
    assert decoder.feed(b"data: b\r\n\r\n") == [SSEEvent("b")]


def test_a_cr_only_stream_gives_each_event_at_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\r\r") == [SSEEvent("1")]
    assert decoder.feed(b"\r") == []  # a blank line with no data: nothing
    assert decoder.feed(b"data: 2\r\r") == [SSEEvent("2")]


def test_pending_tracks_a_half_sent_event() -> None:
    decoder = SSEDecoder()
    assert not decoder.pending
    decoder.feed(b'data: {"cho')
    assert decoder.pending
    decoder.feed(b'ices": []}\n')
    assert decoder.pending  # a data line, but no blank line yet
    assert decoder.feed(b"\n") == [SSEEvent('{"choices": []}')]
    assert not decoder.pending


def test_flush_drops_a_half_event() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: complete\n\ndata: cut")
    assert decoder.flush() == []


@pytest.mark.parametrize(
    ("data", "event", "wire"),
    [
        ("{}", None, b"data: {}\n\n"),
        ("{}", "response.completed", b"event: response.completed\ndata: {}\n\n"),
        ("a\nb", None, b"data: a\ndata: b\n\n"),
        ("a\u2028b", None, "data: a\u2028b\n\n".encode()),
    ],
)
def test_encode(data: str, event: str | None, wire: bytes) -> None:
    assert encode_event(data, event) == wire
    assert decode_in_pieces(wire, 1) == [SSEEvent(data, event or "")]


@pytest.mark.parametrize(
    "value", [{}, {"delta": "line\nbreak\r\nand\rcr"}, {"delta": "\u2028 é 🙂 \x00"}, ["a", 1, None]]
)
def test_json_events_need_no_splitting(value: object) -> None:
    data = json.dumps(value)
    wire = f"event: response.output_text.delta\ndata: {data}\n\n".encode()
    assert encode_event(data, "response.output_text.delta") == wire


def test_event_is_one_sse_event_that_reads_back() -> None:
    value = {"type": "x", "text": "two\nlines\r\nand\u2028more"}
    for kind in ("x", None):
        events = SSEDecoder().feed(json_event(value, kind))
        assert [(e.event, json.loads(e.data)) for e in events] == [(kind or "", value)]
