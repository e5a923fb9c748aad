"""A local server's state table, its backoff, and which idle servers make room (pure)."""

from __future__ import annotations

import pytest

from proxyd.config.settings import LocalLimits, LocalServer
from proxyd.local.plan import MOVES, STATES, Running, backoff_s, make_room, move, ready_url

EVENTS = ("spawn", "answered", "exited", "stop", "timed_out")


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        ("stopped", "spawn", "starting"),
        ("crashed", "spawn", "starting"),
        ("starting", "answered", "ready"),
        ("starting", "exited", "crashed"),  # died while loading: a failed start
        ("starting", "timed_out", "stopping"),  # never answered: stopped, then marked crashed
        ("starting", "stop", "stopping"),
        ("ready", "exited", "crashed"),  # died while idle or serving
        ("ready", "stop", "stopping"),
        ("stopping", "exited", "stopped"),
    ],
)
def test_moves(state: str, event: str, after: str) -> None:
    assert move(state, event) == after  # type: ignore[arg-type]


def test_every_other_pair_is_refused() -> None:
    for state in STATES:
        for event in EVENTS:
            if (state, event) not in MOVES:
                with pytest.raises(ValueError, match=f"from {state} on {event}"):
                    move(state, event)  # type: ignore[arg-type]


@pytest.mark.parametrize(("failures", "wait"), [(0, 0), (1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (50, 60)])
def test_backoff_doubles_to_a_minute(failures: int, wait: float) -> None:
    assert backoff_s(failures) == wait


GiB = 1 << 30


def r(
    name: str, state: str = "ready", memory: int = 0, busy: int = 0, last_used: float = 0.0, port: str = ""
) -> Running:
    return Running(name, state, memory, busy, last_used, port)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("running", "limits", "memory", "stop", "enough"),
    [
        ([], LocalLimits(max_running=1), 0, (), True),
        ([r("a")], LocalLimits(), 0, (), True),  # no caps: everything may run
        ([r("a", last_used=2), r("b", last_used=1)], LocalLimits(max_running=2), 0, ("b",), True),  # least recent
        ([r("a", busy=1), r("b", last_used=1)], LocalLimits(max_running=2), 0, ("b",), True),  # a is answering
        ([r("a", busy=1)], LocalLimits(max_running=1), 0, (), False),  # only a busy one: wait for it
        ([r("a", state="starting")], LocalLimits(max_running=1), 0, (), False),  # a load is never cut short
        ([r("a", state="stopping")], LocalLimits(max_running=1), 0, (), False),  # it frees its room by itself
        ([r("a", state="stopped"), r("b", state="crashed")], LocalLimits(max_running=1), 0, (), True),
        ([r("new")], LocalLimits(max_running=1), 0, (), True),  # itself, restarting, does not count
        # memory: stop the least recently used until the new one fits
        ([r("a", memory=4 * GiB, last_used=1), r("b", memory=4 * GiB, last_used=2)], LocalLimits(memory=10 * GiB),
         4 * GiB, ("a",), True),
        ([r("a", memory=2 * GiB, last_used=1), r("b", memory=6 * GiB, last_used=2)], LocalLimits(memory=10 * GiB),
         7 * GiB, ("a", "b"), True),
        ([r("a", memory=6 * GiB, busy=1)], LocalLimits(memory=10 * GiB), 6 * GiB, (), False),
        # both caps at once
        ([r("a", memory=GiB, last_used=1), r("b", memory=GiB, last_used=2)], LocalLimits(max_running=3, memory=2 * GiB),
         GiB, ("a",), True),
    ],
)  # fmt: skip
def test_make_room(
    running: list[Running], limits: LocalLimits, memory: int, stop: tuple[str, ...], enough: bool
) -> None:
    assert make_room(running, limits, "new", memory) == (stop, enough)


@pytest.mark.parametrize(
    ("base_url", "path", "url"),
    [
        ("http://127.0.0.1:8081/v1", None, "http://127.0.0.1:8081/v1/models"),
        ("http://127.0.0.1:8081/v1/", "/health", "http://127.0.0.1:8081/health"),
        ("http://localhost:9000/api/v1", "/v1/models", "http://localhost:9000/v1/models"),
    ],
)
def test_ready_url(base_url: str, path: str | None, url: str) -> None:
    assert ready_url(base_url, LocalServer(argv=("x",), ready_path=path)) == url


@pytest.mark.parametrize(
    ("running", "limits", "stop", "enough"),
    [
        ([r("a", port="h:1")], LocalLimits(), ("a",), True),  # a model of the same provider holds the port
        ([r("a", port="h:1", busy=1)], LocalLimits(), (), False),  # ... and answers: wait for it
        ([r("a", port="h:1", state="starting")], LocalLimits(), (), False),
        ([r("a", port="h:2")], LocalLimits(), (), True),  # another port: no clash
        ([r("a", port="h:1", last_used=5), r("b", port="h:2", last_used=1)], LocalLimits(max_running=1), ("a", "b"), True),
        ([r("a", port="h:1"), r("b", port="h:2", last_used=1)], LocalLimits(max_running=2), ("a",), True),
    ],
)  # fmt: skip
def test_servers_on_one_port_take_turns(
    running: list[Running], limits: LocalLimits, stop: tuple[str, ...], enough: bool
) -> None:
    assert make_room(running, limits, "new", 0, "h:1") == (stop, enough)
