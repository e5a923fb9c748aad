"""Splitting ``<think>…</think>`` reasoning out of streamed content (pure).

Servers without a reasoning parser (llama.cpp without ``--reasoning-format``, many Qwen3 and
DeepSeek-R1 setups) put the model's thinking inline. Only a leading ``<think>`` opens it, so a
``<think>`` written in the middle of an answer (in a code sample, say) stays text. Tags may be
cut anywhere between two chunks; the undecided tail is held back until the next one.
"""

from __future__ import annotations

from typing import Literal

OPEN, CLOSE = "<think>", "</think>"
Piece = tuple[Literal["reasoning", "text"], str]


class ThinkSplitter:
    __slots__ = ("_held", "_mode", "_strip")

    def __init__(self) -> None:
        self._mode: Literal["start", "reasoning", "text"] = "start"
        self._held = ""
        self._strip = False  # drop the blank lines models put after </think>

    def feed(self, content: str) -> list[Piece]:
        text, self._held = self._held + content, ""
        if self._mode == "start":
            stripped = text.lstrip()
            if OPEN.startswith(stripped):  # still only whitespace or part of "<think>"
                self._held = text
                return []
            if not stripped.startswith(OPEN):
                self._mode = "text"
                return [("text", text)]
            self._mode, text = "reasoning", stripped[len(OPEN) :]
        if self._mode == "text":
            return self._text(text)
        return self._reasoning(text)

    def _text(self, text: str) -> list[Piece]:
        if self._strip:
            text = text.lstrip("\n")
            self._strip = not text
        return [("text", text)] if text else []

    def flush(self) -> list[Piece]:
        held, self._held = self._held, ""
        if not held:
            return []
        return [("reasoning" if self._mode == "reasoning" else "text", held)]

    def _reasoning(self, text: str) -> list[Piece]:
        end = text.find(CLOSE)
        if end >= 0:
            self._mode, self._strip = "text", True
            out: list[Piece] = [("reasoning", text[:end])] if text[:end] else []
            return out + self._text(text[end + len(CLOSE) :])
        keep = _partial_suffix(text, CLOSE)  # "</thi" may be the start of the closing tag
        self._held = text[len(text) - keep :] if keep else ""
        body = text[: len(text) - keep]
        return [("reasoning", body)] if body else []


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
