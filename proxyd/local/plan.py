"""A local server's life as a state table, and which idle servers make room for another (pure).

States: ``stopped`` (not running), ``starting`` (spawned, not answering its ready check yet),
``ready``, ``stopping`` (SIGTERM sent, waiting for it to exit), ``crashed`` (it exited on its
own, could not be spawned, or never became ready). A crash while starting counts as a failed start, and the next start
waits :func:`backoff_s` after it; a server that was ready and died restarts on the next request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from proxyd.config.settings import LocalLimits, LocalServer

State = Literal["stopped", "starting", "ready", "stopping", "crashed"]
Event = Literal["spawn", "answered", "exited", "stop", "timed_out", "failed"]
STATES: tuple[State, ...] = ("stopped", "starting", "ready", "stopping", "crashed")
RUNNING: frozenset[State] = frozenset({"starting", "ready", "stopping"})  # holding its memory

# (state, event) -> next state; a pair not in the table is a bug in the supervisor.
MOVES: dict[tuple[State, Event], State] = {
    ("stopped", "spawn"): "starting",
    ("crashed", "spawn"): "starting",
    ("starting", "answered"): "ready",
    ("starting", "exited"): "crashed",
    ("starting", "stop"): "stopping",
    ("starting", "timed_out"): "stopping",
    ("ready", "exited"): "crashed",
    ("ready", "stop"): "stopping",
    ("stopping", "exited"): "stopped",
    ("stopped", "failed"): "crashed",  # it could not be spawned, or was stopped for never answering
    ("crashed", "failed"): "crashed",
}
BACKOFF_MAX_S = 60.0


def move(state: State, event: Event) -> State:
    try:
        return MOVES[(state, event)]
    except KeyError:
        raise ValueError(f"a local server cannot go from {state} on {event}") from None


def backoff_s(failures: int) -> float:
    """How long after its last failed start a server may be started again: 0, then 1, 2, 4... 60 s."""
    return 0.0 if failures <= 0 else min(BACKOFF_MAX_S, 2.0 ** (failures - 1))


class Running(NamedTuple):
    """What room-making needs to know of one server that holds memory now."""

    name: str
    state: State
    memory: int
    busy: int  # requests in flight or waiting for it
    last_used: float
    port: str = ""  # host:port it listens on: two servers on one port never run at once


class Room(NamedTuple):
    stop: tuple[str, ...]  # idle servers to stop: those on its port, then the least recently used
    enough: bool  # stopping them makes room; else wait until a busy one is done


def make_room(running: Iterable[Running], limits: LocalLimits, name: str, memory: int, port: str = "") -> Room:
    """The servers to stop so that ``name`` (taking ``memory``, listening on ``port``) can start:
    any other server on its port (a provider's models that each have a command share the
    provider's port), then, within ``limits``, idle ready ones, least recently used first. Only
    idle ready servers are stopped; one that is stopping frees its room by itself."""
    others = [r for r in running if r.name != name and r.state in RUNNING]
    clash = [r for r in others if port and r.port == port]
    stop = [r.name for r in clash if r.state == "ready" and r.busy == 0]
    blocked = len(stop) < len(clash)  # one on its port is busy, loading or stopping: wait for it
    rest = [r for r in others if r not in clash]
    count = len(rest)
    used = sum(r.memory for r in rest)
    over_count = limits.max_running is not None and count + 1 > limits.max_running
    over_memory = limits.memory is not None and used + memory > limits.memory
    if not over_count and not over_memory:
        return Room(tuple(stop), not blocked)
    leaving = [r for r in rest if r.state == "stopping"]
    count -= len(leaving)
    used -= sum(r.memory for r in leaving)
    idle = sorted((r for r in rest if r.state == "ready" and r.busy == 0), key=lambda r: r.last_used)
    for r in idle:
        if _fits(count, used, memory, limits):
            break
        stop.append(r.name)
        count -= 1
        used -= r.memory
    return Room(tuple(stop), _fits(count, used, memory, limits) and not leaving and not blocked)


def _fits(count: int, used: int, memory: int, limits: LocalLimits) -> bool:
    return (limits.max_running is None or count + 1 <= limits.max_running) and (
        limits.memory is None or used + memory <= limits.memory
    )


def ready_url(base_url: str, spec: LocalServer) -> str:
    """Where the ready check asks: ``ready.path`` on base_url's host, or ``{base_url}/models``."""
    if spec.ready_path is None:
        return base_url.rstrip("/") + "/models"
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{spec.ready_path}"


def port_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
