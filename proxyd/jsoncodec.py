"""JSON on the hot path: orjson where it gives the same value as the standard library, the
standard library where it would not (pure).

orjson parses a stream chunk in a sixth of ``json.loads``'s time and writes an event in a
tenth of ``json.dumps``'s (``bench/stagecost.py``). Where the two libraries differ, ``json``
decides, so nothing a client or provider sends reads differently than before:

- text orjson refuses (``NaN``, lone surrogates, a byte order mark, ``1e309``) goes to ``json``,
  which accepts it or raises its own error with its own message;
- an integer past 64 bits is read by orjson as a float, so text with a run of 19 digits goes to
  ``json`` before orjson sees it;
- values orjson cannot write (lone surrogates, integers past 64 bits, keys that are not
  strings) are written by ``json``, escaped to ASCII.

orjson writes compact UTF-8 (no spaces, non-ASCII as itself): the same JSON value.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every digit as "0": one ``in`` then finds a run of 19 digits, whatever they are.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def exact(raw: bytes) -> bool:
    """Whether orjson reads every number in ``raw`` as ``json`` does (no run of 19 digits)."""
    return _LONG_NUMBER not in raw.translate(_DIGITS_AS_ZERO)


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``, faster; raises ``ValueError`` as it does."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if exact(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # json has its say: it may accept the text, and its error message is the known one
    return json.loads(data)


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an integer past 64 bits, a key not a str
        return json.dumps(value, separators=(",", ":")).encode()
