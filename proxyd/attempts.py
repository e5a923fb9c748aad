"""A model group's request: its targets tried in turn until one answers, the conversation's
own target first (:mod:`proxyd.affinity`).

The order comes from :func:`proxyd.failover.plan` (strategy, rests, the health checker's
verdicts); each attempt is the ordinary call path (:func:`proxyd.forward.forward`), so it is
translated for its own provider's wire. An attempt that fails before any byte reached the
client raises :class:`~proxyd.failover.TryNext`; :func:`proxyd.failover.next_step` says whether
the same target is tried again or the next one is. Once a response has started, nothing here
runs again: a stream that breaks ends with its wire's error event, as any stream does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from proxyd import jsonbody
from proxyd.affinity import AFFINITY, pinned_first
from proxyd.config.settings import Group, GroupTarget
from proxyd.errors import ProxyError, disabled_error, failure_of
from proxyd.failover import TryNext, next_step, plan
from proxyd.forward import forward
from proxyd.metrics import METRICS
from proxyd.observe import OBSERVER, Observation
from proxyd.routing import Route, Target
from proxyd.runtime import RUNTIME, Generation
from proxyd.session_key import session_key


@dataclass
class _Tries:
    """What a group's request has been through so far."""

    group: Group
    started: float
    failures: list[tuple[GroupTarget, TryNext]] = field(default_factory=list)
    attempts: int = 0

    def time_left(self, now: float) -> float:
        return self.group.failover.deadline_s - (now - self.started)


async def serve_group(
    request: web.Request, target: Target, route: Route, gen: Generation, body: bytes | None,
    parsed: dict[str, Any] | None, obs: Observation,
) -> web.StreamResponse:  # fmt: skip
    group = route.group
    assert group is not None
    runtime = request.app[RUNTIME]
    order = plan(group, runtime.targets, runtime.busy, runtime.down(), time.time(), runtime.rng)
    usable = [t for t in order if not _disabled(gen, t.provider)]
    if not usable:  # every target's provider is disabled: say why, for the first
        raise disabled_error(order[0].provider, _disabled(gen, order[0].provider) or "")
    key = session_key(parsed, request.headers) if group.affinity and len(group.targets) > 1 else None
    affinity = request.app[AFFINITY]
    pinned = await affinity.get(group.alias, key) if key is not None else None
    order = pinned_first(usable, pinned)  # the conversation's target first, while it is in the plan
    tries = _Tries(group, time.monotonic())
    for index, chosen in enumerate(order):
        if tries.attempts and tries.time_left(time.monotonic()) <= 0:
            break
        if index:
            _count_failover(request, tries, chosen)
        answer = await _try_target(
            request, target, gen, chosen, body, parsed if not tries.attempts else None, obs, tries
        )
        if answer is not None:
            if key is not None:  # this conversation's next turn goes where this one was answered
                await affinity.put(group.alias, key, chosen.key)
            return answer
    if tries.failures:
        _count_failover(request, tries, None)
    raise _exhausted(tries)


def _disabled(gen: Generation, name: str) -> str | None:
    provider = gen.config.provider(name)
    return provider.disabled.text if provider is not None and provider.disabled else None


async def _try_target(
    request: web.Request, target: Target, gen: Generation, chosen: GroupTarget, body: bytes | None,
    parsed: dict[str, Any] | None, obs: Observation, tries: _Tries,
) -> web.StreamResponse | None:  # fmt: skip
    """Attempts on one target (a retry or more when the failure allows); None when it failed."""
    runtime, observer = request.app[RUNTIME], request.app[OBSERVER]
    settings = tries.group.failover
    retries_left = settings.retries
    route = gen.router.to_target(chosen, tries.group)
    while True:
        if tries.attempts == 0:
            observer.routed(obs, chosen.provider, chosen.model)
        else:
            observer.rerouted(obs, chosen.provider, chosen.model)
            parsed = jsonbody.parse_object(body) if body else None  # each attempt starts from the request as sent
        tries.attempts += 1
        started = time.perf_counter()
        runtime.busy[chosen.key] = runtime.busy.get(chosen.key, 0) + 1
        pool = runtime.lease(gen, chosen.provider)
        try:
            answer = await forward(request, target, route, pool.session, body, parsed, obs, fail_over=True)
        except TryNext as failure:
            observer.attempt(obs, chosen.key, failure.reason, time.perf_counter() - started, obs.upstream_status)
            step = next_step(failure, retries_left, settings, tries.time_left(time.monotonic()))
            state = runtime.failing(chosen.key)
            state.failed(time.time(), failure.reason, None if step.retry else failure.retry_after_s, settings.cooldown)
            if not step.retry:
                tries.failures.append((chosen, failure))
                return None
            retries_left -= 1
            metrics = request.app[METRICS]
            metrics.child(metrics.retries, chosen.provider, failure.reason).inc()
            await asyncio.sleep(step.wait_s)
            continue
        finally:
            runtime.busy[chosen.key] -= 1
            runtime.release(pool)
        known = runtime.target(chosen.key)
        if known is not None:
            known.succeeded()
        observer.attempt(obs, chosen.key, "ok", time.perf_counter() - started, obs.upstream_status)
        return answer


def _count_failover(request: web.Request, tries: _Tries, to: GroupTarget | None) -> None:
    if not tries.failures:
        return
    last, failure = tries.failures[-1]
    metrics = request.app[METRICS]
    metrics.child(metrics.failovers, tries.group.alias, last.key, to.key if to else "none", failure.reason).inc()


def _exhausted(tries: _Tries) -> ProxyError:
    """The answer when every target failed (or the deadline passed) before any answered."""
    said = "; ".join(f"{t.key}: {f.detail}" for t, f in tries.failures)
    if not tries.failures:
        return ProxyError(503, f"model group {tries.group.alias!r} has no target to try", type="upstream_error",
                          code="group_exhausted")  # fmt: skip
    last = tries.failures[-1][1]
    status = failure_of(last.reason).status
    return ProxyError(
        status,
        f"every target of model group {tries.group.alias!r} failed before answering ({said}); "
        "see proxyd's log line for this request, or GET /status for the targets that are resting",
        type="upstream_error",
        code="group_exhausted",
    )
