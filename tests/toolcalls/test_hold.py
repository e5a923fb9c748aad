"""What a repairing stream holds back: only what may be a call, and nothing is ever lost."""

from __future__ import annotations

import pytest

from proxyd.toolcalls.hold import CALL, MAYBE, MOVES, PASS, Hold, classify, hold_start
from proxyd.toolcalls.offered import from_pivot
from tests.toolcalls.shapes import IN_TEXT, NOT_CALLS, TOOLS

OFFERED = from_pivot(TOOLS)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def run(parts: list[str]) -> tuple[str, str, str]:
    """(sent as it came, held at the end, the state at the end)."""
    hold = Hold(OFFERED)
    sent = "".join(hold.feed(p) for p in parts)
    state = hold.state
    return sent, hold.take(), state


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
@pytest.mark.parametrize("shape", IN_TEXT, ids=[s.id for s in IN_TEXT])
def test_every_in_text_form_is_held_whatever_the_chunking(shape: object, size: int) -> None:
    text = shape.text  # type: ignore[attr-defined]
    sent, held, state = run(pieces(text, size))
    assert sent + held == text
    assert state == CALL
    assert sent.strip() == shape.rest  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [1, 4, 1000])
@pytest.mark.parametrize(("name", "text"), NOT_CALLS, ids=[n for n, _ in NOT_CALLS])
def test_ordinary_text_goes_out(name: str, text: str, size: int) -> None:
    sent, held, state = run(pieces(text, size))
    assert sent + held == text
    # At most the last few characters wait (they could start a marker); never a call.
    assert state != CALL and len(held) <= 15


def test_plain_text_is_never_held() -> None:
    hold = Hold(OFFERED)
    assert [hold.feed(p) for p in ["The weather ", "is fine, ", "thanks."]] == ["The weather ", "is fine, ", "thanks."]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("hello", None),
        ("see <tool_call>", 4),
        ("see <tool", 4),
        ("a\n{", 2),
        ("a {", None),  # a brace inside a line is prose, not a call
        ("x ``", 2),
        ("[TOOL_CALLS]", 0),
        ("<|python_tag|>", 0),
    ],
)
def test_hold_start(text: str, start: int | None) -> None:
    assert hold_start(text) == start


@pytest.mark.parametrize(
    ("held", "verdict"),
    [
        ("<tool_call>", "call"),
        ("<tool", "maybe"),
        ("<function=get_weather>", "call"),
        ("<function=other>", "text"),
        ("<function=get_w", "maybe"),
        ('{"name": "get_weather"', "call"),
        ('{"name": "nope"', "text"),
        ('{"na', "maybe"),
        ('{"answer": 4', "text"),
        ('{"type": "function", "function": {"name": "read_file"', "call"),
        ("```json\n", "maybe"),
        ("```python\n", "text"),
        ("```json\nplain words", "text"),
        ("[get_weather(", "call"),
        ("[1, 2", "text"),
        ("<|channel|>analysis<|message|>thinking", "text"),
        ("<|channel|>commentary to=functions.get_weather <|message|>", "call"),
    ],
)
def test_classify(held: str, verdict: str) -> None:
    assert classify(held, OFFERED) == verdict


def test_the_moves_table_covers_every_state_and_verdict() -> None:
    assert {(s, v) for s in (PASS, MAYBE) for v in ("text", "maybe", "call")} == set(MOVES)
    assert all(MOVES[(s, "call")] == CALL for s in (PASS, MAYBE))


def test_undecided_text_is_let_go_after_a_bound() -> None:
    hold = Hold(OFFERED)
    sent = hold.feed('{"name"' + " " * 20000)
    assert hold.state == PASS and sent.startswith('{"name"')
