"""Schemas compiled once per distinct schema; a schema that cannot judge judges nothing."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.toolcalls import schemas as schemas_module
from proxyd.toolcalls.schemas import Schemas

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_compiled_once_per_distinct_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[Any] = []
    real = Schemas._compile

    def counting(schema: Any) -> Any:
        compiled.append(schema)
        return real(schema)

    monkeypatch.setattr(Schemas, "_compile", staticmethod(counting))
    cache = Schemas()
    for _ in range(50):
        assert cache.problem(dict(CITY), {"city": "x"}) is None  # a new but equal dict each time, as per request
    assert len(compiled) == 1
    # The same schema with its keys in another order: compiled once more, then reused too.
    reordered = {"required": ["city"], "properties": {"city": {"type": "string"}}, "type": "object"}
    for _ in range(3):
        assert cache.problem(dict(reordered), {}) == "(arguments): 'city' is a required property"
    assert len(compiled) == 2


def test_the_cache_is_bounded() -> None:
    cache = Schemas(size=3)
    for i in range(10):
        cache.problem({"type": "object", "properties": {f"p{i}": {"type": "string"}}}, {})
    assert len(cache._cache) == 3


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
    assert Schemas().problem(schema, {"n": "x"}) == "n: 'x' is not of type 'integer'"


def test_no_module_state() -> None:
    assert not [n for n, v in vars(schemas_module).items() if isinstance(v, Schemas)]
