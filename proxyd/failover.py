"""Failover decisions for model groups (pure): which failures move a request on, in what order
the targets are tried, and when a target rests.

Only a failure before any byte reached the client moves a request on: no connection (refused,
reset, DNS, TLS), no answer head in time, or HTTP 429, 500, 502, 503, 504 or 529. Other 4xx are
the client's or the config's business and are returned as they are. A connect failure, or a
429/503 whose ``Retry-After`` is short, is first retried on the same target; a longer
``Retry-After`` rests the target for that long. A target that failed ``cooldown.failures``
times within ``cooldown.window_s`` rests for ``cooldown.base_s``, doubled at each rest in a row
up to ``cooldown.max_s``; after a rest it is tried again, and one success ends the streak.
"""

from __future__ import annotations

import email.utils
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxyd.config.settings import Cooldown, Failover, Group, GroupTarget
from proxyd.errors import ERROR_REASONS, FAIL_OVER_STATUSES, failure_of
from proxyd.reachability import ProviderHealth

STATUSES = FAIL_OVER_STATUSES
# proxyd's own error codes for a request that got no answer head, as failover reasons
ERRORS = {code: reason for code, reason in ERROR_REASONS.items() if failure_of(reason).fails_over}


class TryNext(Exception):
    """An attempt failed before any byte reached the client: the next one may be made."""

    def __init__(self, reason: str, retry_after_s: float | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason  # a metric label: connect, tls, timeout, status_NNN
        self.retry_after_s = retry_after_s
        self.detail = detail or reason  # in words, for the error that ends a group's last attempt


def retry_after_s(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Step:
    retry: bool  # the same target again, after ``wait_s``; else the next target
    wait_s: float = 0.0


def next_step(failure: TryNext, tries_left: int, settings: Failover, time_left: float) -> Step:
    """After a failed attempt: try the same target again, or move on."""
    if not failure_of(failure.reason).same_target or tries_left <= 0:
        return Step(retry=False)
    wait = failure.retry_after_s
    if failure.reason == "status_503" and wait is None:
        return Step(retry=False)  # a 503 that says nothing of when: another target is the better bet
    if wait is not None and (wait > settings.retry_after_max_s or wait >= time_left):
        return Step(retry=False)
    if failure.reason == "status_429" and wait is None:
        wait = 0.5  # a bare 429: a moment's pause, then once more
    return Step(retry=True, wait_s=wait or 0.0)


class TargetState:
    """One target's recent failures and rest; kept across reloads while the target exists."""

    __slots__ = ("failures", "last_reason", "resting_until", "rests")

    def __init__(self) -> None:
        self.failures: deque[float] = deque()
        self.rests = 0  # rests in a row, for the doubling
        self.resting_until = 0.0
        self.last_reason: str | None = None

    def resting(self, now: float) -> float:
        """Seconds of rest left (0 when the target may be tried)."""
        return max(0.0, self.resting_until - now)

    def failed(self, now: float, reason: str, retry_after: float | None, cooldown: Cooldown) -> None:
        self.last_reason = reason
        self.failures.append(now)
        while self.failures and now - self.failures[0] > cooldown.window_s:
            self.failures.popleft()
        if retry_after is not None:  # the provider said how long: rest that long
            self.resting_until = max(self.resting_until, now + retry_after)
        if len(self.failures) >= cooldown.failures:
            self.rests += 1
            rest = min(cooldown.max_s, cooldown.base_s * 2 ** (self.rests - 1))
            self.resting_until = max(self.resting_until, now + rest)
            self.failures.clear()

    def succeeded(self) -> None:
        self.failures.clear()
        self.rests = 0
        self.resting_until = 0.0
        self.last_reason = None


def plan(
    group: Group,
    states: Mapping[str, TargetState],
    busy: Mapping[str, int],
    down: frozenset[str],
    now: float,
    rng: random.Random,
) -> list[GroupTarget]:
    """The targets in the order to try them. Resting targets and those of providers the health
    checker finds unreachable are left out; when that leaves none, the target whose rest ends
    first is tried (a dead group still gets one real attempt, not an instant error)."""
    if group.strategy == "ordered" and not down and not states:  # the usual case: nothing has failed
        return list(group.targets)
    ready = [t for t in group.targets if t.provider not in down and _rest_left(states, t, now) == 0]
    if not ready:
        waits = sorted(group.targets, key=lambda t: (_rest_left(states, t, now), t.provider in down))
        return waits[:1]
    if group.strategy == "weighted":
        return _weighted_order(ready, rng)
    if group.strategy == "least-busy":
        return sorted(ready, key=lambda t: busy.get(t.key, 0))  # stable: ties keep config order
    return ready


def _weighted_order(targets: Sequence[GroupTarget], rng: random.Random) -> list[GroupTarget]:
    left, out = list(targets), []
    while left:
        pick = rng.choices(range(len(left)), weights=[t.weight for t in left])[0]
        out.append(left.pop(pick))
    return out


def _rest_left(states: Mapping[str, TargetState], target: GroupTarget, now: float) -> float:
    state = states.get(target.key)
    return state.resting(now) if state is not None else 0.0


def group_report(
    groups: Sequence[Group], states: Mapping[str, TargetState], health: Mapping[str, ProviderHealth],
    busy: Mapping[str, int], now: float,
) -> list[dict[str, Any]]:  # fmt: skip
    """Each model group and each target's state: its provider's health, rest left, recent
    failures, requests in flight (for ``/status`` and the page)."""
    out = []
    for group in groups:
        targets = []
        for t in group.targets:
            state, provider = states.get(t.key), health.get(t.provider)
            targets.append({
                "target": t.key,
                "weight": t.weight,
                "provider_state": provider.state if provider is not None else "unknown",
                "resting_s": round(state.resting(now), 1) if state is not None else 0.0,
                "recent_failures": len(state.failures) if state is not None else 0,
                "last_failure": state.last_reason if state is not None else None,
                "in_flight": busy.get(t.key, 0),
            })  # fmt: skip
        out.append({"alias": group.alias, "strategy": group.strategy, "targets": targets})
    return out
