from __future__ import annotations

import pytest

from proxyd.wires.think import ThinkSplitter

CASES = [
    ("<think>plan it</think>\n\nThe answer.", "plan it", "The answer."),
    ("  \n<think>x</think>y", "x", "y"),
    ("No thinking here <think>not a tag</think>", "", "No thinking here <think>not a tag</think>"),
    ("<think>unfinished thought", "unfinished thought", ""),
    ("<thin", "", "<thin"),
    ("", "", ""),
    ("<think></think>Only text", "", "Only text"),
    ("<think>a</thinking> still </think>b", "a</thinking> still ", "b"),
]


def split(content: str, size: int) -> tuple[str, str]:
    splitter = ThinkSplitter()
    pieces = []
    for i in range(0, len(content), size):
        pieces += splitter.feed(content[i : i + size])
    pieces += splitter.flush()
    return "".join(t for k, t in pieces if k == "reasoning"), "".join(t for k, t in pieces if k == "text")


@pytest.mark.parametrize(("content", "reasoning", "text"), CASES)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_split_however_the_content_is_cut(content: str, reasoning: str, text: str, size: int) -> None:
    assert split(content, size) == (reasoning, text)
