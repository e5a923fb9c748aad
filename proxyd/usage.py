"""Token counts from a provider's ``usage`` object, in either OpenAI wire's shape (pure).

Chat Completions says ``prompt_tokens`` / ``completion_tokens`` with ``*_details``
(``cached_tokens``, and ``cache_write_tokens`` where a gateway reports cache writes, as
OpenRouter does); the Responses API says ``input_tokens`` / ``output_tokens``. Both become one
:class:`Usage` with the five kinds the metrics count; Anthropic's adapter maps its own first.
A relayed JSON body is not parsed whole to find it: the usage object sits at the end of every
answer, so :func:`usage_in_tail` reads the last few kilobytes only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

from proxyd import jsoncodec

KINDS = ("prompt", "completion", "reasoning", "cache_read", "cache_write")
TAIL_BYTES = 16 * 1024
_USAGE_KEY_RE = re.compile(r'"usage"\s*:\s*\{')
_DECODER = json.JSONDecoder()


class Usage(NamedTuple):
    """Tokens by kind. ``prompt`` counts every input token, cache reads and writes included (as
    OpenAI's ``prompt_tokens`` does; Anthropic's three input counts are summed); ``completion``
    includes ``reasoning``. A tuple: one or two are made per request."""

    prompt: int = 0
    completion: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def items(self) -> tuple[tuple[str, int], ...]:
        return (
            ("prompt", self.prompt),
            ("completion", self.completion),
            ("reasoning", self.reasoning),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
        )

    def as_dict(self) -> dict[str, int]:
        return dict(self.items())


def usage_of(value: object) -> Usage | None:
    """A :class:`Usage` from a chat or Responses ``usage`` object; ``None`` when it is not one."""
    if not isinstance(value, dict):
        return None
    if "input_tokens" in value or "output_tokens" in value:
        prompt, completion = value.get("input_tokens"), value.get("output_tokens")
        in_details, out_details = value.get("input_tokens_details"), value.get("output_tokens_details")
    elif "prompt_tokens" in value or "completion_tokens" in value:
        prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
        in_details, out_details = value.get("prompt_tokens_details"), value.get("completion_tokens_details")
    else:
        return None
    return Usage(
        prompt=_count(prompt),
        completion=_count(completion),
        reasoning=_count(_get(out_details, "reasoning_tokens")),
        cache_read=_count(_get(in_details, "cached_tokens")),
        cache_write=_count(_get(in_details, "cache_write_tokens")),
    )


def usage_in_tail(tail: bytes, read: Callable[[object], Usage | None] = usage_of) -> Usage | None:
    """The last ``"usage": {...}`` object in the end of a JSON body, if it is complete there,
    as ``read`` (the wire's reader) counts it."""
    text = tail.decode("utf-8", "replace")  # the tail may begin inside a character
    for match in reversed(list(_USAGE_KEY_RE.finditer(text))):
        try:
            value, _ = _DECODER.raw_decode(text, match.end() - 1)
        except ValueError:  # cut off by the end of the tail, or not JSON there
            continue
        found = read(value)
        if found is not None:
            return found
    return None


def usage_in_event(data: str) -> Usage | None:
    """Usage from one stream event: a chat chunk's ``usage`` or a Responses terminal event's."""
    try:
        event = jsoncodec.loads(data)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    response = event.get("response")
    if isinstance(response, dict):
        return usage_of(response.get("usage"))
    return usage_of(event.get("usage"))


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def bounded_tail(tail: bytes, chunk: bytes) -> bytes:
    """Append ``chunk`` and keep the last :data:`TAIL_BYTES` bytes."""
    joined = tail + chunk if tail else chunk
    return joined[-TAIL_BYTES:] if len(joined) > TAIL_BYTES else joined
