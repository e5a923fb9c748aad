"""Calls written as text, in each form trackers show, found; look-alikes left alone."""

from __future__ import annotations

import json

import pytest

from proxyd.toolcalls.in_text import call_of, find_calls
from proxyd.toolcalls.offered import from_pivot
from tests.toolcalls.shapes import IN_TEXT, NOT_CALLS, TOOLS, InText

OFFERED = from_pivot(TOOLS)


@pytest.mark.parametrize("shape", IN_TEXT, ids=[s.id for s in IN_TEXT])
def test_each_form_is_found(shape: InText) -> None:
    found = find_calls(shape.text, OFFERED)
    assert found is not None, shape.source
    assert [(name, json.loads(args)) for name, args in found.calls] == list(shape.calls)
    assert found.form == shape.form
    assert found.text == shape.rest


@pytest.mark.parametrize(("name", "text"), NOT_CALLS, ids=[n for n, _ in NOT_CALLS])
def test_look_alikes_are_not_calls(name: str, text: str) -> None:
    assert find_calls(text, OFFERED) is None


def test_nothing_is_found_when_no_tools_were_offered() -> None:
    assert find_calls(IN_TEXT[0].text, from_pivot([])) is None


def test_a_tool_call_block_naming_another_tool_is_not_a_call() -> None:
    text = '<tool_call>\n{"name": "search_web", "arguments": {}}\n</tool_call>'
    assert find_calls(text, OFFERED) is None


def test_a_list_counts_only_when_every_item_is_a_call() -> None:
    text = '[{"name": "get_weather", "arguments": {"city": "P"}}, {"name": "nope"}]'
    assert find_calls(text, OFFERED) is None


def test_an_unclosed_tag_at_the_end_still_holds_its_call() -> None:
    # Servers stop at the end token, so the closing tag is often missing.
    found = find_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "P"}}', OFFERED)
    assert found is not None and found.calls == (("get_weather", '{"city": "P"}'),)


@pytest.mark.parametrize(
    ("value", "call"),
    [
        ({"name": "get_weather", "arguments": {"city": "P"}}, ("get_weather", '{"city": "P"}')),
        ({"name": "get_weather", "parameters": {"city": "P"}}, ("get_weather", '{"city": "P"}')),
        ({"name": "get_weather", "arguments": '{"city": "P"}'}, ("get_weather", '{"city": "P"}')),
        ({"type": "function", "function": {"name": "get_weather", "arguments": {}}}, ("get_weather", "{}")),
        ({"tool": "get_weather", "tool_input": {"city": "P"}}, ("get_weather", '{"city": "P"}')),
        ({"name": "functions.get_weather", "arguments": {}}, ("functions.get_weather", "{}")),
        ({"name": "other", "arguments": {}}, None),
        ({"city": "P"}, None),
        (["get_weather"], None),
    ],
)
def test_call_shapes(value: object, call: tuple[str, str] | None) -> None:
    assert call_of(value, OFFERED) == call
