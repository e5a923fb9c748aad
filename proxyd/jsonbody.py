"""Request bodies as JSON: parse strictly, serialize safely (pure).

Python's ``json`` accepts things that are not JSON (``NaN``, ``Infinity``), turns ``1e309`` into
``inf`` (which it would then write back as the non-JSON ``Infinity``), and recurses on nesting.
A proxy that rewrites a body must not forward any of that, so each is a 400 here.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from proxyd import jsoncodec
from proxyd.errors import ProxyError, bad_request

_SMALL = 16 * 1024  # bytes: below this, searching them beats walking the value
MAX_DEPTH = 200  # real requests nest < 20 deep; JSON Schemas in tools reach ~30


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


# Made once: json.loads with any option builds a new decoder and scanner per call (9.2 against
# 5.1 µs for the benchmark's chat body, timeit).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse_object(data: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN, 1e309, lone surrogates, UTF-16, a BOM: json's answer
        value = None
    strict = not isinstance(value, dict)
    if strict:
        value = _strict(data)
        if not isinstance(value, dict):
            raise bad_request("the request body must be a JSON object", code="invalid_json")
    body: dict[str, Any] = value
    if len(data) <= _SMALL and data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        # Too few brackets to nest too deep, and few enough bytes to search them for a long
        # number faster than walking the value: 1.7 µs for the bench's chat body, against 3.6.
        too_deep, inexact = False, not jsoncodec.exact(data)
    else:
        too_deep, inexact = _shape(body, MAX_DEPTH)
    if too_deep:
        raise _too_deep()
    if inexact and not strict:  # orjson read an integer past 64 bits as a float: json keeps it
        body = _strict(data)
    return body


def _strict(data: bytes) -> Any:
    try:
        return _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8 JSON", code="invalid_json") from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError, and int() over the digit limit
        raise bad_request(f"the request body is not valid JSON: {_reason(exc)}", code="invalid_json") from None


def dump(value: dict[str, Any]) -> bytes:
    """Serialize a parsed body for the upstream (:func:`proxyd.jsoncodec.dumps`: compact UTF-8,
    lone surrogates escaped). A parsed body holds no NaN: :func:`parse_object` refuses it."""
    try:
        return jsoncodec.dumps(value)
    except (ValueError, RecursionError):
        raise bad_request("the request body cannot be re-serialized as JSON", code="invalid_json") from None


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    text = str(exc)
    return text if len(text) < 120 else "a number has too many digits"


def _too_deep() -> ProxyError:
    return bad_request(f"the request body nests deeper than {MAX_DEPTH} levels", code="invalid_json")


# orjson reads integers in [-2**63, 2**64) exactly and any other as a float, rounded (so one just
# below -2**63 reads as -2**63.0): a float not strictly inside may have been such an integer, or
# was written so (1e20); json reads either exactly.
_EXACT_LOW, _EXACT_HIGH = -(2.0**63), 2.0**64


def _shape(value: dict[str, Any], limit: int) -> tuple[bool, bool]:
    """Whether ``value`` nests deeper than ``limit``, and whether it holds a float outside
    orjson's integer range. Level by level, each level a few comprehensions: a 100 KB agent
    body takes about 0.1 ms, where finding long digit runs in its bytes took 0.16 ms (timeit)."""
    level: list[Any] = [value]
    depth, inexact = 1, False
    while level:
        if depth > limit:
            return True, inexact
        children = [c for node in level for c in (node.values() if type(node) is dict else node)]
        if not inexact:
            floats = [c for c in children if type(c) is float]
            inexact = bool(floats) and not _EXACT_LOW < min(floats) <= max(floats) < _EXACT_HIGH
        level = [c for c in children if type(c) is dict or type(c) is list]
        depth += 1
    return False, inexact
