"""The answer plan over every combination of what an answer's head can say (the way
tests/wires/test_registry.py runs every pair of wires): each path follows from a rule written
here apart from the code's table."""

from __future__ import annotations

import itertools

import pytest

from proxyd.answer_plan import RULES, Head, Path, plan

STATUSES = (200, 302, 404, 500)
FLAGS = ("sse", "translated", "same_errors", "stream", "whole", "rewrite", "refused")
HEADS = [
    Head(status, **dict(zip(FLAGS, values, strict=True)))
    for status in STATUSES
    for values in itertools.product((False, True), repeat=len(FLAGS))
]


def expected(h: Head) -> Path:
    """The paths as the way back is meant to go, said apart from :data:`RULES`."""
    if h.refused:
        return Path.NEXT_WIRE  # wire: auto sends the request on, whatever it was
    if h.status >= 300:
        return Path.ERROR_ACROSS if h.translated and not h.same_errors else Path.ERROR
    if h.translated:  # never relayed as it came: the client reads another wire
        if not h.stream:
            return Path.TRANSLATE_WHOLE
        return Path.TRANSLATE_STREAM if h.sse else Path.REPLAY
    if h.stream and h.whole:
        return Path.REPLAY
    return Path.TRANSLATE_STREAM if h.rewrite and h.sse else Path.RELAY


@pytest.mark.parametrize("head", HEADS, ids=repr)
def test_every_head_takes_its_path(head: Head) -> None:
    assert plan(head) is expected(head)


def test_every_path_is_taken_and_every_rule_decides_something() -> None:
    taken = {plan(h) for h in HEADS}
    assert taken == set(Path)
    first = {next(name for name, holds, _ in RULES if holds(h)) for h in HEADS}
    assert first == {name for name, _, _ in RULES}  # no rule is shadowed by the ones above it


@pytest.mark.parametrize("head", [h for h in HEADS if 200 <= h.status < 300 and not h.refused], ids=repr)
def test_a_client_that_streams_gets_a_stream_and_one_that_does_not_never_a_replay(head: Head) -> None:
    path = plan(head)
    if head.stream:
        assert path is not Path.TRANSLATE_WHOLE
    else:
        assert path is not Path.REPLAY
