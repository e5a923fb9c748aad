"""The ledger's rows: counts per day, client, provider and model (pure)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# The columns of a row, in order: its counts.
COUNTS = ("requests", "prompt", "completion", "reasoning", "cache_read", "cache_write", "cost_micros", "unpriced")


@dataclass(frozen=True)
class Row:
    day: str  # YYYY-MM-DD, UTC
    client: str
    provider: str
    model: str
    counts: tuple[int, ...]  # as COUNTS

    def get(self, name: str) -> int:
        return self.counts[COUNTS.index(name)]


def periods(now: float) -> tuple[str, str]:
    """The UTC day (``2026-12-06``) and month (``2026-12``) of ``now``: a budget's two periods.
    Asked per request (the ledger, the budgets): formatted once a day."""
    return _periods(int(now // 86_400))


def day_of(when: float) -> str:
    return periods(when)[0]


@lru_cache(maxsize=8)
def _periods(day_number: int) -> tuple[str, str]:
    day = time.strftime("%Y-%m-%d", time.gmtime(day_number * 86_400))
    return day, day[:7]


def merge_rows(rows: Iterable[Row]) -> list[Row]:
    """Rows of one key added up (a key can be stored and pending at once)."""
    out: dict[tuple[str, str, str, str], list[int]] = {}
    for row in rows:
        mine = out.setdefault((row.day, row.client, row.provider, row.model), [0] * len(COUNTS))
        for i, n in enumerate(row.counts):
            mine[i] += n
    return [Row(*key, tuple(counts)) for key, counts in sorted(out.items())]
