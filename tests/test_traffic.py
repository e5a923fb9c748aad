"""The page's traffic figures, from the same records the observer keeps."""

from __future__ import annotations

import pytest

from proxyd.traffic import KEEP, Record, as_rows, ring, summarize


def record(
    at: float, provider: str = "p", status: int = 200, duration: float = 0.1, error: str | None = None
) -> Record:
    return (at, "chat.completions", "chat", None, provider, "m", status, 0.05, duration, 10, 2, error, 4)


def test_rows_are_newest_first_in_milliseconds() -> None:
    rows = as_rows([record(1.0, duration=0.1), record(2.0, duration=0.25)])
    assert [(r["at"], r["duration_ms"], r["ttft_ms"], r["prompt_tokens"]) for r in rows] == [
        (2.0, 250.0, 50.0, 10), (1.0, 100.0, 50.0, 10)]  # fmt: skip


def test_the_ring_keeps_the_last_few_hundred() -> None:
    kept = ring()
    for i in range(KEEP + 10):
        kept.append(record(float(i)))
    assert len(kept) == KEEP and kept[0][0] == 10.0


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([record(100.0, duration=d / 1000) for d in range(1, 101)],
         {"requests": 100, "per_minute": 20.0, "error_rate": 0.0, "p50_ms": 50.0, "p95_ms": 95.0,
          "cache_hit_ratio": 0.4}),
        ([record(100.0, status=502, error="upstream_unreachable"), record(100.0), record(100.0, status=499),
          record(100.0, status=400)],  # a client's 400 is not the provider failing
         {"requests": 4, "per_minute": 0.8, "error_rate": 0.5, "p50_ms": 100.0, "p95_ms": 100.0,
          "cache_hit_ratio": 0.4}),
        ([record(100.0, error="stream_incomplete"), record(-300.0)],  # the second is older than the window
         {"requests": 1, "per_minute": 0.2, "error_rate": 1.0, "p50_ms": 100.0, "p95_ms": 100.0,
          "cache_hit_ratio": 0.4}),
    ],
)  # fmt: skip
def test_per_provider_figures(records: list[Record], expected: dict[str, float]) -> None:
    assert summarize(records, now=110.0) == {"p": expected}


def test_each_provider_is_summed_apart() -> None:
    out = summarize([record(1.0, "a"), record(1.0, "b", status=503)], now=2.0)
    assert (out["a"]["error_rate"], out["b"]["error_rate"]) == (0.0, 1.0)
