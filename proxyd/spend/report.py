"""The usage report: the ledger's rows added up by client, model, provider or day (pure).

``proxyd usage`` prints it as a table or JSON; the page's Usage tab draws the same numbers.
Costs are summed in micro-dollars and shown in dollars, so every view agrees to the cent.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from proxyd.spend.rows import COUNTS, Row

BY = ("client", "model", "provider", "day")
_SINCE = re.compile(r"^(\d+)([dwm])$")
_UNITS = {"d": 1, "w": 7, "m": 30}


def since_day(text: str, today: datetime.date) -> str:
    """``7d``, ``2w``, ``1m`` (30 days), ``today`` or a date: the first day counted (``7d`` is
    today and the six days before)."""
    if text == "today":
        return today.isoformat()
    found = _SINCE.match(text)
    if found:
        days = int(found.group(1)) * _UNITS[found.group(2)]
        return (today - datetime.timedelta(days=max(days - 1, 0))).isoformat()
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"--since {text!r}: give a span (7d, 2w, 1m), today, or a date (2026-12-01)") from None


def summarize(rows: list[Row], by: str) -> list[dict[str, Any]]:
    """One entry per value of ``by``: requests, tokens by kind, cost; the costliest first (days in order)."""
    groups: dict[str, list[int]] = {}
    for row in rows:
        key = row.day if by == "day" else getattr(row, by)
        mine = groups.setdefault(key, [0] * len(COUNTS))
        for i, n in enumerate(row.counts):
            mine[i] += n
    out: list[dict[str, Any]] = [{by: key, **dict(zip(COUNTS, counts, strict=True))} for key, counts in groups.items()]
    if by == "day":
        out.sort(key=lambda e: e["day"])
    else:
        out.sort(key=lambda e: (-e["cost_micros"], -e["requests"], e[by]))
    for entry in out:
        entry["cost_usd"] = round(entry.pop("cost_micros") / 1e6, 6)
    return out


def total(entries: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [c for c in COUNTS if c != "cost_micros"]
    sums: dict[str, Any] = {k: sum(e[k] for e in entries) for k in keys}
    sums["cost_usd"] = round(sum(round(e["cost_usd"] * 1e6) for e in entries) / 1e6, 6)
    return sums


def table(entries: list[dict[str, Any]], by: str) -> str:
    """A table a person reads at a glance: counts with thousands separators, dollars to the cent."""
    head = [by, "requests", "prompt", "cache read", "cache write", "completion", "reasoning", "cost", "unpriced"]
    lines = [[str(e[by]), *_cells(e)] for e in entries]
    lines.append(["total", *_cells(total(entries))])
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]
    text = [_line(head, widths), _line(["-" * w for w in widths], widths)]
    text += [_line(r, widths) for r in lines[:-1]]
    text += [_line(["-" * w for w in widths], widths), _line(lines[-1], widths)]
    if not entries:
        text.insert(2, "(no requests in this span)")
    return "\n".join(text)


def _cells(e: dict[str, Any]) -> list[str]:
    counts = [f"{e[k]:,}" for k in ("requests", "prompt", "cache_read", "cache_write", "completion", "reasoning")]
    return [*counts, f"${e['cost_usd']:,.2f}", f"{e['unpriced']:,}" if e["unpriced"] else "-"]


def _line(cells: list[str], widths: list[int]) -> str:
    first = cells[0].ljust(widths[0])
    return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]).rstrip()
