"""Rate-limit headers in the convention of the client's API, and when a budget's period ends (pure).

OpenAI's clients read ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` (the reset as a
duration such as ``6m0s``); Anthropic's read ``anthropic-ratelimit-{requests,tokens}-{limit,
remaining,reset}`` (the reset as an RFC 3339 time). Both SDKs retry a 429 after ``Retry-After``
seconds.
"""

from __future__ import annotations

import calendar
import math
import time


def limit_headers(
    wire: str | None, kind: str, limit: int, remaining: int, reset: float, wait_s: float
) -> dict[str, str]:
    """``wait_s``: until ``reset`` (a Unix time). ``retry-after-ms`` too: both SDKs read it first,
    and a minute window's wait is not whole seconds."""
    whole = max(math.ceil(wait_s), 1)
    headers = {"Retry-After": str(whole), "retry-after-ms": str(max(int(wait_s * 1000), 1))}
    if kind not in ("requests", "tokens"):
        return headers  # a budget has no header of either API's own: Retry-After says when
    if wire == "anthropic":
        prefix = f"anthropic-ratelimit-{kind}-"
        headers |= {prefix + "limit": str(limit), prefix + "remaining": str(remaining),
                    prefix + "reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset))}  # fmt: skip
    else:
        headers |= {f"x-ratelimit-limit-{kind}": str(limit), f"x-ratelimit-remaining-{kind}": str(remaining),
                    f"x-ratelimit-reset-{kind}": duration(whole)}  # fmt: skip
    return headers


def duration(seconds: int) -> str:
    """OpenAI's form: ``1s``, ``6m0s``, ``1h2m3s``."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def period_end(period: str, now: float) -> float:
    """When this UTC ``day`` or ``month`` ends (the next one's first second)."""
    if period == "day":
        return now - now % 86_400 + 86_400
    today = time.gmtime(now)
    year, month = (today.tm_year + 1, 1) if today.tm_mon == 12 else (today.tm_year, today.tm_mon + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))
