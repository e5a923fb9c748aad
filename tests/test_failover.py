"""Failover decisions, as tables: what moves a request on, retry or next, rests, and the order."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from proxyd.config.settings import Cooldown, Failover, Group, GroupTarget
from proxyd.failover import TargetState, TryNext, next_step, plan, retry_after_s

A, B, C = GroupTarget("a", "m"), GroupTarget("b", "m"), GroupTarget("c", "m")
SETTINGS = Failover(retries=1, deadline_s=30, retry_after_max_s=10)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), (" 0 ", 0.0), ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0), ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
     ("soon", None), ("-1", None), ("", None), (None, None)],
)  # fmt: skip
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_after_s(value, now=40.0) == seconds


@pytest.mark.parametrize(
    ("reason", "retry_after", "tries_left", "time_left", "retry", "wait"),
    [
        ("connect", None, 1, 30, True, 0.0),  # refused or reset: once more, at once
        ("connect", None, 0, 30, False, 0.0),  # no retries left
        ("status_429", 2.0, 1, 30, True, 2.0),  # rate limited, and told when: wait that long
        ("status_429", None, 1, 30, True, 0.5),  # rate limited, not told when: a moment
        ("status_429", 60.0, 1, 30, False, 0.0),  # longer than retry_after_max_s: the next target
        ("status_429", 5.0, 1, 4, False, 0.0),  # longer than the deadline leaves
        ("status_503", 1.0, 1, 30, True, 1.0),
        ("status_503", None, 1, 30, False, 0.0),  # unavailable, not told when: the next target
        ("status_500", None, 1, 30, False, 0.0),
        ("status_529", 1.0, 1, 30, False, 0.0),  # overloaded: another provider is the better bet
        ("timeout", None, 1, 30, False, 0.0),  # it already cost the first-byte timeout
        ("tls", None, 1, 30, False, 0.0),  # a certificate does not fix itself
    ],
)
def test_next_step(
    reason: str, retry_after: float | None, tries_left: int, time_left: float, retry: bool, wait: float
) -> None:
    step = next_step(TryNext(reason, retry_after), tries_left, SETTINGS, time_left)
    assert (step.retry, step.wait_s) == (retry, wait)


def test_a_target_rests_after_failures_in_a_window_doubling_up_to_the_cap() -> None:
    cooldown = Cooldown(failures=2, window_s=10, base_s=5, max_s=12)
    state = TargetState()
    state.failed(100.0, "connect", None, cooldown)
    assert state.resting(100.0) == 0  # one failure: not yet
    state.failed(120.0, "connect", None, cooldown)  # the first fell out of the window
    assert state.resting(120.0) == 0
    state.failed(121.0, "connect", None, cooldown)
    assert state.resting(121.0) == 5  # base_s
    state.failed(130.0, "connect", None, cooldown)
    state.failed(131.0, "connect", None, cooldown)
    assert state.resting(131.0) == 10  # doubled
    state.failed(140.0, "connect", None, cooldown)
    state.failed(141.0, "connect", None, cooldown)
    assert state.resting(141.0) == 12  # capped
    state.succeeded()
    assert state.resting(141.0) == 0 and state.rests == 0 and not state.failures


def test_retry_after_rests_the_target_that_long() -> None:
    state = TargetState()
    state.failed(100.0, "status_429", 42.0, Cooldown())
    assert state.resting(100.0) == 42.0 and state.resting(150.0) == 0


def group(strategy: str = "ordered", *targets: GroupTarget) -> Group:
    return Group("main", targets or (A, B, C), strategy)


def resting(*targets: GroupTarget, until: float = 200.0) -> dict[str, TargetState]:
    states = {}
    for t in targets:
        states[t.key] = TargetState()
        states[t.key].resting_until = until
    return states


@pytest.mark.parametrize(
    ("strategy", "states", "busy", "down", "order"),
    [
        ("ordered", {}, {}, frozenset(), [A, B, C]),
        ("ordered", resting(A), {}, frozenset(), [B, C]),  # resting: skipped
        ("ordered", {}, {}, frozenset({"b"}), [A, C]),  # the health checker finds b unreachable
        ("least-busy", {}, {"a/m": 3, "b/m": 1, "c/m": 1}, frozenset(), [B, C, A]),  # ties keep config order
        ("least-busy", resting(B), {"a/m": 3}, frozenset(), [C, A]),
        # every target out: the one whose rest ends first still gets a real attempt
        ("ordered", {**resting(A, until=300), **resting(B, until=150), **resting(C, until=400)}, {}, frozenset(), [B]),
        ("ordered", {}, {}, frozenset({"a", "b", "c"}), [A]),
    ],
)  # fmt: skip
def test_plan(strategy: str, states: dict[str, TargetState], busy: dict[str, int], down: frozenset[str],
              order: list[GroupTarget]) -> None:  # fmt: skip
    assert plan(group(strategy), states, busy, down, 100.0, random.Random(1)) == order


def test_weighted_picks_first_in_proportion_and_still_lists_every_target() -> None:
    heavy = GroupTarget("a", "m", 3.0)
    g = group("weighted", heavy, GroupTarget("b", "m", 1.0))
    rng = random.Random(7)
    orders = [plan(g, {}, {}, frozenset(), 0.0, rng) for _ in range(4000)]
    assert all(len(o) == 2 for o in orders)
    firsts = Counter(o[0].provider for o in orders)
    assert 2800 <= firsts["a"] <= 3200  # 3 of 4, give or take five standard deviations
