"""Tool argument schemas, compiled once per distinct schema and kept in a bounded cache (pure).

An agent sends the same tools on every turn, so a schema is compiled (checked against its
metaschema, a validator built) the first time a call of its tool is judged and then reused; the
key is the schema's ``repr`` (the same tools come in the same order each turn; one in another
order is only compiled once more), which costs a few microseconds per checked call and nothing
per chunk or per request without calls. A schema that is not valid JSON Schema (clients do send
those) checks nothing rather than failing calls that may be fine. No I/O: a remote ``$ref`` is
never fetched, and a call whose schema needs one is not judged against it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

_UNUSABLE = "unusable"  # the cache's mark for a schema that is not valid JSON Schema
MAX_DETAIL = 200


class Schemas:
    """Compiled validators by schema, the most recently used ``size`` kept."""

    __slots__ = ("_cache", "_size")

    def __init__(self, size: int = 512) -> None:
        self._cache: OrderedDict[str, Validator | str] = OrderedDict()
        self._size = size

    def problem(self, schema: Mapping[str, Any], value: Any) -> str | None:
        """Why ``value`` does not match ``schema`` (the most relevant error, with its path), or None."""
        validator = self._validator(schema)
        if validator is None:
            return None
        from jsonschema.exceptions import best_match  # imported on first use: it costs startup 0.1 s

        try:
            error = best_match(validator.iter_errors(value))
        except Exception:  # an unresolvable $ref and the like: the schema cannot judge
            return None
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{where or '(arguments)'}: {error.message}"[:MAX_DETAIL]

    def _validator(self, schema: Mapping[str, Any]) -> Validator | None:
        key = repr(schema)  # half a canonical JSON encode's cost (timeit), and parsed JSON has one repr
        found = self._cache.get(key)
        if found is None:
            found = self._compile(schema)
            self._cache[key] = found
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return None if isinstance(found, str) else found

    @staticmethod
    def _compile(schema: Mapping[str, Any]) -> Validator | str:
        from jsonschema import Draft202012Validator, SchemaError, validators

        cls = validators.validator_for(schema, default=Draft202012Validator)
        try:
            cls.check_schema(dict(schema))
        except SchemaError:
            return _UNUSABLE
        return cls(schema)
