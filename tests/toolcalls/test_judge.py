"""One call judged, and repaired only where the fix makes it valid (tables from real reports)."""

from __future__ import annotations

import json

import pytest

from proxyd.toolcalls.judge import almost_json, coerce, judge, known_name, normalize
from proxyd.toolcalls.offered import from_pivot
from proxyd.toolcalls.schemas import Schemas
from proxyd.wires.turn import ToolName
from tests.toolcalls.shapes import BAD_CALLS, TOOLS, BadCall

OFFERED = from_pivot(TOOLS)


@pytest.mark.parametrize("case", BAD_CALLS, ids=[c.id for c in BAD_CALLS])
def test_bad_calls(case: BadCall) -> None:
    verdict = judge(case.name, case.arguments, OFFERED, Schemas())
    assert verdict.result == case.result, verdict.detail
    assert verdict.tool == case.name and verdict.arguments == case.arguments
    if case.fixed is None:
        assert verdict.fixed is None
    else:
        assert verdict.fixed is not None
        name, arguments = verdict.fixed
        assert (name, json.loads(arguments)) == case.fixed
    assert (verdict.detail is None) == (case.result == "ok")


def test_a_fix_must_validate_or_it_is_not_offered() -> None:
    # Almost JSON, but what it parses to still lacks the required city: no repair.
    verdict = judge("get_weather", "{'days': 3,}", OFFERED, Schemas())
    assert verdict.result == "invalid_json" and verdict.fixed is None


def test_free_form_tools_are_exempt_from_json_checks() -> None:
    offered = from_pivot([{"type": "function", "function": {"name": "apply_patch", "parameters": {}}}],
                         {"apply_patch": ToolName("custom", "apply_patch")})  # fmt: skip
    assert judge("apply_patch", "*** Begin Patch\n...", offered, Schemas()).result == "ok"


def test_a_tool_without_schema_takes_any_object_but_only_an_object() -> None:
    offered = from_pivot([{"type": "function", "function": {"name": "t"}}])
    assert judge("t", '{"anything": [1]}', offered, Schemas()).result == "ok"
    assert judge("t", "[1, 2]", offered, Schemas()).result == "schema_mismatch"


def test_schema_detail_names_the_path() -> None:
    verdict = judge("read_file", '{"path": "a", "view_range": [1, "x"]}', OFFERED, Schemas())
    assert verdict.result == "schema_mismatch"
    assert verdict.detail is not None and verdict.detail.startswith("view_range/1:")


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("functions.get_weather", "get_weather"),
        ("get_weather<|channel|>commentary", "get_weather"),
        ("GET_WEATHER", "get_weather"),
        (' "get_weather" ', "get_weather"),
        ("weather", None),
        ("get_weather_now", None),
    ],
)
def test_decorated_names(name: str, meant: str | None) -> None:
    assert known_name(name, OFFERED) == meant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'a': 'it\\'s', 'b': \"say \\\"hi\\\"\"}", {"a": "it's", "b": 'say "hi"'}),
        ("{'a': True, 'b': None, 'c': False}", {"a": True, "b": None, "c": False}),
        ('{"a": [1, 2,], "b": {"c": 1,},}', {"a": [1, 2], "b": {"c": 1}}),
        ('{"text": "keep, } these \' and True"}', {"text": "keep, } these ' and True"}),
        ("{'q': 'a \"quoted\" word'}", {"q": 'a "quoted" word'}),
        ('{"code": "line1\nline2"}', {"code": "line1\nline2"}),  # a raw newline in a string
        ("   ", {}),
        ("not json at all", None),
    ],
)
def test_almost_json(text: str, expected: object) -> None:
    assert almost_json(text) == expected


def test_normalize_leaves_valid_json_alone() -> None:
    text = '{"a": "x,]", "b": [true, null, 1.5e3], "c": "\\"q\\""}'
    assert json.loads(normalize(text)) == json.loads(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"days": "3", "city": "x"}, {"days": 3, "city": "x"}),
        ({"days": "three"}, None),
        ({"days": "3.5"}, None),  # not an integer: left for the schema to refuse
        ({"city": "3"}, None),  # declared a string: stays one
        ({"flag": "true"}, {"flag": True}),
        ({"ids": "[1, 2]"}, {"ids": [1, 2]}),
    ],
)
def test_coerce_by_declared_type(value: dict[str, object], expected: object) -> None:
    schema = {"properties": {"days": {"type": "integer"}, "city": {"type": "string"}, "flag": {"type": "boolean"},
                             "ids": {"type": "array"}}}  # fmt: skip
    assert coerce(value, schema) == expected
