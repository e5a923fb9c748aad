"""Schemas compiled once per distinct schema; a schema that cannot judge judges nothing."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.toolcalls import schemas as schemas_module
from proxyd.toolcalls.schemas import Schemas

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_compiled_once_per_distinct_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[Any] = []
    real = schemas_module.compile_schema

    def counting(schema: Any) -> Any:
        compiled.append(schema)
        return real(schema)

    monkeypatch.setattr(schemas_module, "compile_schema", counting)
    cache = Schemas()
    for _ in range(50):
        assert cache.problem(dict(CITY), {"city": "x"}) is None  # a new but equal dict each time, as per request
    assert len(compiled) == 1
    # The same schema with its keys in another order: compiled once more, then reused too.
    reordered = {"required": ["city"], "properties": {"city": {"type": "string"}}, "type": "object"}
    for _ in range(3):
        assert cache.problem(dict(reordered), {}) == "(arguments): missing required city"
    assert len(compiled) == 2


def test_the_cache_is_bounded() -> None:
    cache = Schemas(size=3)
    for i in range(10):
        cache.problem({"type": "object", "properties": {f"p{i}": {"type": "string"}}}, {})
    assert len(cache._cache) == 3


def wide(n: int, tag: str = "") -> dict[str, Any]:
    return {"type": "object", "properties": {f"{tag}p{i}": {"type": "integer"} for i in range(n)}}


def test_the_cache_is_bounded_by_bytes_too() -> None:
    cache = Schemas(max_bytes=100_000)
    for tag in "abcdefgh":
        cache.problem(wide(2_000, tag), {})  # about 50 kB of schema text each
    assert cache._bytes <= 100_000 and 1 <= len(cache._cache) <= 2


def test_a_schema_too_large_is_not_checked() -> None:
    huge = wide(20_000)  # about 0.5 MB: seconds to compile, hundreds of MB held
    assert len(repr(huge)) > schemas_module.MAX_SCHEMA_BYTES
    cache = Schemas()
    assert cache.problem(huge, {"p1": "not an integer"}) is None
    assert cache.missing([huge, CITY, None]) == [(repr(CITY), CITY)] and not cache._cache


def test_prepared_off_the_loop_then_used() -> None:
    cache = Schemas()
    ((key, schema),) = cache.missing([CITY])
    cache.keep(key, schemas_module.compile_schema(schema))  # what forward does from a thread
    assert cache.missing([dict(CITY)]) == []
    assert cache.problem(dict(CITY), {}) == "(arguments): missing required city"


@pytest.mark.parametrize(
    ("schema", "value", "said"),
    [
        ({"type": "object", "properties": {"count": {"type": "integer"}}}, {"count": "sk-SECRET-VALUE"},
         "count: expected integer"),
        ({"type": "object", "properties": {"mode": {"enum": ["a", "b"]}}}, {"mode": "sk-SECRET-VALUE"},
         "mode: is not one of the values the schema allows"),
        ({"type": "object", "additionalProperties": False}, {"sk-SECRET-VALUE": 1},
         "(arguments): holds a property the schema does not allow"),
        ({"type": "object", "properties": {"s": {"type": "string", "maxLength": 3}}}, {"s": "sk-SECRET-VALUE"},
         "s: breaks maxLength: 3"),
        ({"type": "object", "properties": {"s": {"pattern": "^a$"}}}, {"s": "sk-SECRET-VALUE"}, "s: breaks pattern: ^a$"),
    ],
)  # fmt: skip
def test_a_problem_names_the_rule_never_the_value(schema: dict[str, Any], value: Any, said: str) -> None:
    problem = Schemas().problem(schema, value)
    assert problem == said and "SECRET" not in problem


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "no-such-type"},  # not valid JSON Schema
        {"$ref": "https://example.com/schema.json"},  # remote: never fetched
        {"properties": {"a": {"$ref": "#/$defs/missing"}}},  # dangling
    ],
)
def test_unusable_schemas_judge_nothing(schema: dict[str, Any]) -> None:
    assert Schemas().problem(schema, {"a": 1}) is None


def test_local_refs_and_drafts() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}},
              "type": "object", "properties": {"n": {"$ref": "#/definitions/n"}}}  # fmt: skip
    assert Schemas().problem(schema, {"n": "x"}) == "n: expected integer"


def test_no_module_state() -> None:
    assert not [n for n, v in vars(schemas_module).items() if isinstance(v, Schemas)]
