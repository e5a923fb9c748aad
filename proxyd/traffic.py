"""The last few hundred requests, for the page's Traffic view, and what they add up to (pure).

The observer appends one :data:`Record` per finished request (a tuple, the cheapest thing to
build on the hot path); only the page turns records into dicts. A record holds what the access
line holds and never any prompt or answer text. The per-provider figures are computed from the
same records, over the last :data:`WINDOW_S` seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

KEEP = 500
WINDOW_S = 300.0

# (at, endpoint, wire, translated, provider, model, status, ttft_s, duration_s,
#  prompt tokens, completion tokens, error code, prompt tokens read from the provider's cache)
Record = tuple[
    float, str, str | None, str | None, str, str | None, int, float | None, float, int | None, int | None,
    str | None, int | None,
]  # fmt: skip
_FIELDS = (
    "at", "endpoint", "wire", "translated", "provider", "model", "status",
    "ttft_ms", "duration_ms", "prompt_tokens", "completion_tokens", "error", "cache_read_tokens",
)  # fmt: skip


def ring() -> deque[Record]:
    return deque(maxlen=KEEP)


def as_rows(records: Iterable[Record], limit: int = KEEP) -> list[dict[str, Any]]:
    """The newest ``limit`` records, newest first, as JSON rows (times in milliseconds)."""
    newest = list(records)[-limit:]
    rows = []
    for record in reversed(newest):
        row = dict(zip(_FIELDS, record, strict=True))
        row["ttft_ms"] = _ms(record[7])
        row["duration_ms"] = _ms(record[8])
        rows.append(row)
    return rows


def summarize(records: Iterable[Record], now: float, window_s: float = WINDOW_S) -> dict[str, dict[str, Any]]:
    """Per provider, over the last ``window_s`` seconds: requests, requests per minute, the
    share that failed (5xx, an upstream error, or a cut stream), p50/p95 duration in ms, and the
    share of prompt tokens its cache answered (None before any request reported usage)."""
    durations: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    prompts: dict[str, list[int]] = {}  # provider -> [prompt tokens, of them read from its cache]
    for at, _, _, _, provider, _, status, _, duration, prompt, _, error, cached in records:
        if now - at > window_s:
            continue
        durations.setdefault(provider, []).append(duration)
        failed = status >= 500 or status == 499 or (error is not None and error.startswith(("upstream", "stream")))
        errors[provider] = errors.get(provider, 0) + failed
        if prompt:
            counted = prompts.setdefault(provider, [0, 0])
            counted[0] += prompt
            counted[1] += cached or 0
    out = {}
    for provider, values in durations.items():
        values.sort()
        out[provider] = {
            "requests": len(values),
            "per_minute": round(len(values) * 60 / window_s, 2),
            "error_rate": round(errors[provider] / len(values), 4),
            "p50_ms": _ms(_percentile(values, 0.50)),
            "p95_ms": _ms(_percentile(values, 0.95)),
            "cache_hit_ratio": round(prompts[provider][1] / prompts[provider][0], 4) if provider in prompts else None,
        }
    return out


def _percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(1, math.ceil(len(ordered) * q)) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
