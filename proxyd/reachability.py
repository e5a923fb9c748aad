"""Provider health as a small state record fed by probes and by real traffic (pure).

States: ``unknown`` (not probed yet), ``ok``, ``degraded`` (answers, but slowly, with 5xx, with a
rejected key, or real requests are failing), ``unreachable`` (no answer at all). A probe is
``GET {base_url}/models``; real requests report too, so a dead provider is noticed at the first
failed request, not at the next probe. A traffic verdict stands until a request succeeds, a
probe shows the server is back (for ``unreachable``), or :data:`TRAFFIC_MEMORY_S` pass without
another failure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from proxyd.config.settings import ModelEntry
from proxyd.diagnosis import Diagnosis
from proxyd.errors import failure_of

# misconfigured: the config says it cannot be used (its key's variable is not set): red, with the fix
State = Literal["unknown", "ok", "degraded", "unreachable", "misconfigured"]
TRAFFIC_MEMORY_S = 300.0
HISTORY = 60  # probes kept per provider for the page's latency history (an hour at the default interval)


@dataclass(frozen=True)
class ProbeResult:
    """What one ``GET /models`` showed. ``status`` is None when no HTTP answer came."""

    latency_s: float
    status: int | None = None
    error: str | None = None  # why no answer came (composed from config facts: no secrets)
    models: tuple[ModelEntry, ...] | None = None  # the listing, when the answer held one
    failure: BaseException | None = field(default=None, compare=False)  # what stopped an answer, for `check`
    body: bytes = b""  # the start of an error answer (the provider's own secrets blanked), for `check`
    # what to set when GET /models answered 404 here but another form of the base_url lists models
    misplaced: Diagnosis | None = None
    ollama: bool = False  # the listing is Ollama's, which has /api/show for each model's window


def judge_probe(result: ProbeResult, degraded_after_s: float) -> tuple[State, str | None]:
    """The state one probe shows, and what is wrong (``None`` when nothing is)."""
    status = result.status
    if status is None:
        return "unreachable", result.error or "no answer"
    if result.misplaced is not None:  # it answers, but every request to this base_url would fail
        return "misconfigured", f"{result.misplaced.cause}; {result.misplaced.fix}"
    if status in (401, 403):
        return "degraded", f"the provider rejected the key (HTTP {status} on GET /models)"
    if status >= 500:
        return "degraded", f"HTTP {status} on GET /models"
    if result.latency_s >= degraded_after_s:
        return "degraded", f"slow: GET /models took {result.latency_s:.2f} s (degraded_after_s {degraded_after_s:g})"
    return "ok", None


def traffic_verdict(reason: str | None, status: int) -> State | None:
    """What a real request says about its provider: a state, or ``None`` for nothing new."""
    verdict = failure_of(reason).health if reason is not None else None
    if verdict is None and status in (401, 403):
        return "degraded"  # the key is refused: every request of it will be
    return "unreachable" if verdict == "unreachable" else "degraded" if verdict == "degraded" else None


class ProviderHealth:
    """One provider's record; the health checker and the request observer update it."""

    __slots__ = (
        "asleep", "history", "last_probe", "models", "probe_at", "probe_error", "probe_latency_s",
        "probe_state", "traffic_at", "traffic_error", "traffic_state", "windows",
    )  # fmt: skip

    def __init__(self) -> None:
        self.probe_state: State = "unknown"
        self.probe_latency_s: float | None = None
        self.probe_at: float | None = None
        self.probe_error: str | None = None
        self.traffic_state: State | None = None
        self.traffic_error: str | None = None
        self.traffic_at = 0.0
        self.models: tuple[ModelEntry, ...] = ()  # the last listing, with what it said of each
        self.last_probe: ProbeResult | None = None  # for the diagnosis the page shows
        # (when, latency in seconds or None for no answer, state) of the last probes, oldest first
        self.history: deque[tuple[float, float | None, State]] = deque(maxlen=HISTORY)
        self.windows: dict[str, int] = {}  # model -> context window found beyond the listing (Ollama's /api/show)
        self.asleep = False  # a local server proxyd runs is not running now: not probed (a probe would not wake it)

    def misconfigured(self, reason: str) -> None:
        """The provider cannot be used as configured: not probed, and its requests refused."""
        self.probe_state, self.probe_error = "misconfigured", reason

    @property
    def state(self) -> State:
        return self.traffic_state or self.probe_state

    @property
    def error(self) -> str | None:
        return self.traffic_error if self.traffic_state is not None else self.probe_error

    def probed(self, result: ProbeResult, degraded_after_s: float, now: float) -> None:
        self.probe_state, self.probe_error = judge_probe(result, degraded_after_s)
        self.probe_latency_s = result.latency_s if result.status is not None else None
        self.probe_at = now
        self.last_probe = result
        self.history.append((now, self.probe_latency_s, self.probe_state))
        if result.models:  # an empty or failing listing keeps what was known; the next probe retries
            self.models = result.models
        if self.traffic_state == "unreachable" and result.status is not None:
            self.traffic_state = None  # it answers again
        if self.traffic_state is not None and now - self.traffic_at > TRAFFIC_MEMORY_S:
            self.traffic_state = None

    def traffic(self, reason: str | None, status: int, error: str | None, now: float) -> None:
        verdict = traffic_verdict(reason, status)
        if verdict is not None:
            self.traffic_state, self.traffic_error, self.traffic_at = verdict, error, now
        elif status < 400 and reason is None:
            self.traffic_state = None
            if self.probe_state in ("unknown", "unreachable"):
                self.probe_state, self.probe_error = "ok", None  # it just answered a real request

    def local(self, running: bool, error: str | None, now: float) -> None:
        """A local server proxyd runs started, stopped or crashed: a crash is red with its cause
        until the server answers again; a server that is stopped on purpose keeps its last state."""
        self.asleep = not running
        if error is not None:
            self.traffic_state, self.traffic_error, self.traffic_at = "unreachable", error, now
        elif running:
            self.traffic_state = None
            self.probe_state, self.probe_error = "ok", None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "error": self.error,
            "probe": {"latency_s": self.probe_latency_s, "at": self.probe_at, "state": self.probe_state},
        }
