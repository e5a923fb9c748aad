"""Token usage from either wire's usage object, and from the tail of a relayed body (pure)."""

from __future__ import annotations

import json

import pytest

from proxyd.usage import TAIL_BYTES, Usage, bounded_tail, usage_in_event, usage_in_tail, usage_of

CHAT = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2}}  # fmt: skip
RESPONSES = {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 4},
             "output_tokens_details": {"reasoning_tokens": 2}}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (CHAT, Usage(10, 5, 2, 4)),
        (RESPONSES, Usage(10, 5, 2, 4)),
        ({"prompt_tokens": 3}, Usage(3, 0, 0, 0)),
        ({"prompt_tokens": -1, "completion_tokens": True}, Usage(0, 0, 0, 0)),  # nonsense counts as nothing
        ({"total_tokens": 9}, None),
        (None, None),
        ("usage", None),
    ],
)
def test_usage_of(value: object, expected: Usage | None) -> None:
    assert usage_of(value) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (json.dumps({"choices": [], "usage": CHAT}).encode(), Usage(10, 5, 2, 4)),
        (json.dumps({"output": [{"text": '"usage": {'}], "usage": RESPONSES}).encode(), Usage(10, 5, 2, 4)),
        (b'{"choices": [], "usage": {"prompt_tokens": 1', None),  # cut short
        (b'{"data": [1, 2, 3]}', None),
        (b'{"usage": null, "x": {"usage": {"prompt_tokens": 2}}}', Usage(2, 0, 0, 0)),
    ],
)
def test_usage_in_tail(body: bytes, expected: Usage | None) -> None:
    assert usage_in_tail(body) == expected


def test_tail_is_bounded() -> None:
    tail = b""
    for _ in range(10):
        tail = bounded_tail(tail, b"x" * 5000)
    assert len(tail) == TAIL_BYTES


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (json.dumps({"choices": [], "usage": CHAT}), Usage(10, 5, 2, 4)),
        (json.dumps({"type": "response.completed", "response": {"usage": RESPONSES}}), Usage(10, 5, 2, 4)),
        ("[DONE]", None),
        ("{", None),
    ],
)
def test_usage_in_event(data: str, expected: Usage | None) -> None:
    assert usage_in_event(data) == expected
