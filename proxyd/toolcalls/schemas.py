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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

_UNUSABLE = "unusable"  # the cache's mark for a schema that is not valid JSON Schema
MAX_DETAIL = 200
MAX_SCHEMA_BYTES = 256 * 1024  # a tool's schema larger than this is not checked (see Schemas)


def rule(keyword: object, expected: object, instance: object = None) -> str:
    """The schema rule a value broke, in words that quote the schema, never the value: the
    problem is shown to every admin and viewer and logged, and the value is one client's data
    (jsonschema's own message quotes it)."""
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "expected " + " or ".join(str(k) for k in kinds)
    if keyword == "required" and isinstance(expected, list) and isinstance(instance, dict):
        missing = [str(name) for name in expected if name not in instance]  # names from the schema
        return "missing required " + ", ".join(missing)[:80]
    if keyword == "additionalProperties":
        return "holds a property the schema does not allow"
    if keyword in ("enum", "const"):
        return "is not one of the values the schema allows"
    if isinstance(expected, bool | int | float) or (isinstance(expected, str) and len(expected) <= 40):
        return f"breaks {keyword}: {expected}"
    return f"breaks {keyword}"


class Schemas:
    """Compiled validators by schema, the most recently used kept: at most ``size`` of them and
    ``max_bytes`` of schema text (a validator holds about as much as its schema).

    A schema of more than :data:`MAX_SCHEMA_BYTES` checks nothing: compiling one of a megabyte
    takes seconds and holds hundreds of megabytes. The others are compiled off the event loop
    before their request goes upstream (:meth:`missing` and :meth:`keep`, from a thread);
    :meth:`problem` compiles in line only what was not prepared that way.
    """

    __slots__ = ("_bytes", "_cache", "_held", "_keys", "_max_bytes", "_size")

    def __init__(self, size: int = 512, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._cache: OrderedDict[str, Validator | str] = OrderedDict()
        self._size, self._max_bytes, self._bytes = size, max_bytes, 0
        # The key of each schema object seen lately, by identity (the object is held, so its id
        # is not reused): a request's schema is keyed when it is offered and again when a call
        # is judged, and a large one's repr takes milliseconds of the event loop.
        self._keys: OrderedDict[int, tuple[Mapping[str, Any], str | None, int]] = OrderedDict()
        self._held = 0  # the schema text the memo holds, bounded like the cache

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
        return f"{where or '(arguments)'}: {rule(error.validator, error.validator_value, error.instance)}"[:MAX_DETAIL]

    def missing(self, schemas: Iterable[Mapping[str, Any] | None]) -> list[tuple[str, Mapping[str, Any]]]:
        """The schemas (with their keys) not compiled yet and not too large to check."""
        out = []
        for schema in schemas:
            key = self._key(schema) if schema else None
            if schema and key is not None and key not in self._cache:
                out.append((key, schema))
        return out

    def keep(self, key: str, compiled: Validator | str) -> None:
        """Keep a validator :func:`compile_schema` made (in a thread) for the schema of ``key``."""
        if key in self._cache:
            return
        self._cache[key] = compiled
        self._bytes += len(key)
        while len(self._cache) > self._size or (self._bytes > self._max_bytes and len(self._cache) > 1):
            old, _ = self._cache.popitem(last=False)
            self._bytes -= len(old)

    def _key(self, schema: Mapping[str, Any]) -> str | None:
        """The cache's key for a schema (its ``repr``: half a canonical JSON encode's cost, and
        parsed JSON has one repr), or None for one too large to check."""
        held = self._keys.get(id(schema))
        if held is not None and held[0] is schema:
            return held[1]
        text = repr(schema)
        key = text if len(text) <= MAX_SCHEMA_BYTES else None
        if len(text) <= self._max_bytes:
            stale = self._keys.pop(id(schema), None)  # a freed schema whose id was reused
            self._held -= stale[2] if stale is not None else 0
            self._keys[id(schema)] = (schema, key, len(text))
            self._held += len(text)
            while len(self._keys) > 64 or self._held > self._max_bytes:
                _, (_, _, size) = self._keys.popitem(last=False)
                self._held -= size
        return key

    def _validator(self, schema: Mapping[str, Any]) -> Validator | None:
        key = self._key(schema)
        if key is None:
            return None
        found = self._cache.get(key)
        if found is None:
            found = compile_schema(schema)
            self.keep(key, found)
        else:
            self._cache.move_to_end(key)
        return None if isinstance(found, str) else found


def compile_schema(schema: Mapping[str, Any]) -> Validator | str:
    """A validator for ``schema``, or the mark of one that is not valid JSON Schema."""
    from jsonschema import Draft202012Validator, SchemaError, validators

    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(dict(schema))
    except SchemaError:
        return _UNUSABLE
    return cls(schema)
