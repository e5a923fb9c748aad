"""Health verdicts from probes and traffic (pure)."""

from __future__ import annotations

import pytest

from proxyd.config.settings import ModelEntry
from proxyd.reachability import TRAFFIC_MEMORY_S, ProbeResult, ProviderHealth, judge_probe


@pytest.mark.parametrize(
    ("result", "state", "error_has"),
    [
        (ProbeResult(0.1, 200), "ok", None),
        (ProbeResult(0.1, 404), "ok", None),  # answers, just lists no models
        (ProbeResult(4.0, 200), "degraded", "slow"),
        (ProbeResult(0.1, 401), "degraded", "rejected the key"),
        (ProbeResult(0.1, 502), "degraded", "HTTP 502"),
        (ProbeResult(2.0, None, error="connection refused"), "unreachable", "connection refused"),
    ],
)
def test_judge_probe(result: ProbeResult, state: str, error_has: str | None) -> None:
    got_state, error = judge_probe(result, degraded_after_s=3.0)
    assert got_state == state
    assert (error is None) if error_has is None else (error_has in str(error))


def test_traffic_overrides_then_yields() -> None:
    h = ProviderHealth()
    assert h.state == "unknown"
    h.probed(ProbeResult(0.1, 200, models=(ModelEntry("a"),)), 3.0, now=0)
    assert (h.state, h.models) == ("ok", (ModelEntry("a"),))
    h.traffic("connect", 0, "refused", now=1)
    assert (h.state, h.error) == ("unreachable", "refused")
    h.probed(ProbeResult(0.1, 200, models=()), 3.0, now=2)  # answers again; an empty listing keeps the old one
    assert (h.state, h.models) == ("ok", (ModelEntry("a"),))
    h.traffic("status_5xx", 503, "HTTP 503", now=3)
    assert h.state == "degraded"
    h.probed(ProbeResult(0.1, 200), 3.0, now=4)  # /models answering says nothing about chat failing
    assert h.state == "degraded"
    h.probed(ProbeResult(0.1, 200), 3.0, now=4 + TRAFFIC_MEMORY_S)  # but the verdict fades
    assert h.state == "ok"
    h.traffic("status_5xx", 503, "HTTP 503", now=10_000)
    h.traffic(None, 200, None, now=10_001)
    assert h.state == "ok" and h.error is None


@pytest.mark.parametrize(
    ("reason", "status", "state"),
    [("status_4xx", 400, "ok"), ("status_4xx", 401, "degraded"), ("timeout", 0, "degraded"), ("tls", 0, "unreachable")],
)
def test_traffic_verdicts(reason: str, status: int, state: str) -> None:
    h = ProviderHealth()
    h.probed(ProbeResult(0.1, 200), 3.0, now=0)
    h.traffic(reason, status, "x", now=1)
    assert h.state == state


def test_a_success_proves_an_unprobed_provider_up() -> None:
    h = ProviderHealth()
    h.traffic(None, 200, None, now=0)
    assert h.state == "ok"
