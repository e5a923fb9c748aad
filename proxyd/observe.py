"""Observation: the one place that records a proxied request's metrics, access log line and
its effect on provider health.

Each ``/v1`` request gets an :class:`Observation` (``request[OBS]``) that the stages fill in as
they go: the route names the provider and model, the upstream call stamps time to first byte,
the relay counts chunks and stamps the first token, and usage is read from the answer. The
outermost middleware hands it to :meth:`Observer.finish` when the response is done, streams
included, or when the client has left.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from proxyd.config.settings import DEFAULT_CLIENT, Client
from proxyd.errors import ERROR_REASONS, FAILURES, ProxyError, failure_of, status_reason
from proxyd.metrics import NO_PROVIDER, OTHER_MODEL, Metrics
from proxyd.probes import publish_state
from proxyd.runtime import Runtime
from proxyd.spend.gate import Gate, Ticket
from proxyd.spend.ledger import Ledger
from proxyd.toolcalls.findings import Findings
from proxyd.traffic import ring
from proxyd.usage import Usage
from proxyd.wires.registry import WIRES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AccessWriter = Callable[[dict[str, Any]], None]

_TOKEN_RES = {wire.name: wire.first_token for wire in WIRES.values()}


class Observation:
    __slots__ = (
        "_token_re",
        "attempts",
        "chunks",
        "client",
        "cost",
        "disconnected",
        "endpoint",
        "error",
        "error_code",
        "method",
        "model",
        "provider",
        "request_id",
        "started",
        "status",
        "ticket",
        "tools",
        "translated",
        "ttfb",
        "ttft",
        "upstream_started",
        "upstream_status",
        "usage",
        "wire",
    )  # fmt: skip

    def __init__(self, request_id: str, method: str, endpoint: str, client: str = DEFAULT_CLIENT) -> None:
        self.request_id = request_id
        self.client = client  # a configured name (listen.tokens), never request data
        self.method = method
        self.endpoint = endpoint
        self.started = time.perf_counter()
        self.provider = NO_PROVIDER
        self.model: str | None = None
        self.status = 0
        self.ttfb: float | None = None
        self.ttft: float | None = None
        self.upstream_started = 0.0
        self.upstream_status: int | None = None
        self.wire: str | None = None
        self.translated: str | None = None
        self.usage: Usage | None = None
        self.cost: int | None = None  # micro-dollars, when the model has a price
        self.ticket: Ticket | None = None  # a budget or limits apply: settled when the request ends
        self.chunks = 0
        self.disconnected = False
        self.error_code: str | None = None
        self.error: str | None = None
        self._token_re: re.Pattern[bytes] | None = None
        self.attempts: list[dict[str, object]] | None = None  # a model group's tries, in order
        self.tools: Findings | None = None  # the answer's tool calls, when the request offered tools

    def upstream(self, wire: str, translated: str | None = None) -> None:
        """A request is about to go upstream on ``wire``."""
        self.wire, self.translated = wire, translated
        self.upstream_started = time.perf_counter()

    def streaming(self) -> None:
        """The answer is a stream: watch its chunks for the first token."""
        self._token_re = _TOKEN_RES.get(self.wire or "")

    def answered(self, status: int) -> None:
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.upstream_started
        self.upstream_status = status

    def relayed(self, chunk: bytes) -> None:
        """An upstream chunk was relayed (translated or not)."""
        self.chunks += 1
        if self.ttft is None and self._token_re is not None and self._token_re.search(chunk):
            self.ttft = time.perf_counter() - self.started

    def failed(self, exc: ProxyError) -> None:
        self.error_code, self.error = exc.code, exc.message

    @property
    def reason(self) -> str | None:
        """Why the upstream failed, as a metric label; ``None`` when it did not."""
        if self.error_code in ERROR_REASONS:
            return failure_of(ERROR_REASONS[self.error_code]).label
        status = self.upstream_status
        return failure_of(status_reason(status)).label if status is not None and status >= 400 else None


OBS = web.RequestKey("observation", Observation)
CLIENT = web.RequestKey("client", Client)  # who sent the request, by its token (absent: no token is asked)


class Observer:
    def __init__(self, metrics: Metrics, runtime: Runtime, access_line: AccessWriter | None = None) -> None:
        """``access_line``: writes the access line straight as JSON (:class:`proxyd.log.AccessLine`);
        without it, the line goes through structlog's chain."""
        self.metrics = metrics
        self.runtime = runtime
        self.access_line = access_line
        self.log = structlog.get_logger("proxyd.access")
        self.recent = ring()  # the page's Traffic view
        self.ledger: Ledger | None = None  # set when the ledger's store is open (ledger.enabled)
        self.gate: Gate | None = None  # budgets and rate limits, set when the app starts

    def routed(self, obs: Observation, provider: str, model: str | None) -> None:
        obs.provider, obs.model = provider, model  # routed: counted in flight until finish()
        self.metrics.child(self.metrics.inflight, provider).inc()

    def rerouted(self, obs: Observation, provider: str, model: str) -> None:
        """A model group moves the request to another target: it is that one's in flight now."""
        if obs.provider != provider:
            self.metrics.child(self.metrics.inflight, obs.provider).dec()
            self.metrics.child(self.metrics.inflight, provider).inc()
        obs.provider, obs.model = provider, model
        obs.ttfb = obs.upstream_status = obs.error_code = obs.error = None

    def attempt(self, obs: Observation, target: str, outcome: str, seconds: float, status: int | None) -> None:
        """One try of a model group's target, for the access line; a failed one also tells the
        provider's health what it saw (as a finished request does)."""
        if obs.attempts is None:
            obs.attempts = []
        obs.attempts.append({"target": target, "outcome": outcome, "ms": round(seconds * 1000, 1)})
        if outcome != "ok":
            reason = outcome if outcome in FAILURES and FAILURES[outcome].fails_over else None
            if status is not None and status >= 500:
                reason = failure_of(status_reason(status)).label
            self._health(obs.provider, reason, status or 0, f"{outcome} (a model group's attempt)")

    def finish(self, obs: Observation) -> None:
        duration = time.perf_counter() - obs.started
        m, p = self.metrics, obs.provider
        m.child(m.requests, p, obs.endpoint, str(obs.status), obs.client).inc()
        m.child(m.duration, p, obs.endpoint).observe(duration)
        if obs.ttfb is not None:
            m.child(m.ttfb, p).observe(obs.ttfb)
        if obs.ttft is not None:
            m.child(m.ttft, p, obs.endpoint).observe(obs.ttft)
        if obs.chunks:
            m.child(m.chunks, p).inc(obs.chunks)
        if p != NO_PROVIDER:
            m.child(m.inflight, p).dec()
        reason = obs.reason
        if reason is not None:
            m.child(m.upstream_errors, p, reason).inc()
        if obs.disconnected:
            m.child(m.disconnects, p).inc()
        self._count_tokens(obs)
        self._settle(obs)
        if obs.tools is not None:
            self._tool_calls(obs, obs.tools)
        self._update_health(obs, reason)
        self._log(obs, duration, reason)
        usage = obs.usage
        self.recent.append((
            time.time(), obs.endpoint, obs.wire, obs.translated, p, obs.model[:200] if obs.model else None,
            obs.status, obs.ttft, duration, usage.prompt if usage else None, usage.completion if usage else None,
            obs.error_code, usage.cache_read if usage else None,
        ))  # fmt: skip

    def _model_label(self, obs: Observation) -> str:
        """The model as a label: a configured or listed name, never raw client input."""
        known = self.runtime.current.router.known(obs.provider, obs.model)
        return obs.model if known and obs.model is not None else OTHER_MODEL

    def _count_tokens(self, obs: Observation) -> None:
        """Tokens and cost into the metrics, and the request into the ledger (when it reached a provider)."""
        usage = obs.usage
        if usage is None and (self.ledger is None or obs.upstream_status is None):
            return
        m, label = self.metrics, self._model_label(obs)
        if usage is not None:
            for kind, count in usage.items():
                if count:
                    m.child(m.tokens, obs.provider, label, kind, obs.client).inc(count)
            price = self.runtime.current.prices.price(obs.provider, obs.model)
            if price is not None:
                obs.cost = cost = price.cost_micros(usage)
                if cost:  # a free local model adds no series
                    m.child(m.cost, obs.provider, label, obs.client).inc(cost / 1e6)
        if self.ledger is not None and obs.upstream_status is not None:
            self.ledger.record(obs.client, obs.provider, label, usage, obs.cost)

    def _settle(self, obs: Observation) -> None:
        """The request's cost and tokens to its client's budget and limits (every priced request
        counts, so a budget set later knows what was spent)."""
        gate = self.gate
        if gate is None:
            return
        if obs.ticket is not None:
            usage = obs.usage
            gate.settle(obs.ticket, usage.prompt + usage.completion if usage else 0, obs.cost)
        elif obs.cost:
            gate.spend.add("client", obs.client, obs.cost, time.time())

    def _tool_calls(self, obs: Observation, findings: Findings) -> None:
        m, label = self.metrics, self._model_label(obs)
        for record in findings.records:
            m.child(m.tool_calls, obs.provider, label, record.result).inc()
        self.runtime.tool_health.add(obs.provider, label, findings, time.time())
        for record in findings.problems():
            judged = record.judged
            self.log.warning(
                "tool_call_problem", request_id=obs.request_id, provider=obs.provider, model=label,
                tool=judged.tool[:80], result=judged.result, detail=judged.detail, repaired=record.repaired,
            )  # fmt: skip
            # The arguments are one client's data: only a debug log shows their (redacted) head.
            self.log.debug("tool_call_arguments", request_id=obs.request_id, arguments_head=judged.arguments[:200])

    def _update_health(self, obs: Observation, reason: str | None) -> None:
        if obs.upstream_status is None and reason is None:
            return  # it never reached the provider: says nothing about it
        status = obs.upstream_status or 0
        self._health(
            obs.provider, reason, status, obs.error or (f"HTTP {status} from the provider" if status >= 400 else None)
        )

    def _health(self, provider: str, reason: str | None, status: int, error: str | None) -> None:
        health = self.runtime.health.get(provider)
        if health is None:
            return
        before = health.state
        health.traffic(reason, status, error, time.time())
        if health.state != before:
            publish_state(self.metrics, provider, health, by="traffic")

    def _log(self, obs: Observation, duration: float, reason: str | None) -> None:
        fields: dict[str, Any] = {
            "request_id": obs.request_id,
            "client": obs.client,
            "method": obs.method,
            "endpoint": obs.endpoint,
            "provider": obs.provider,
            "model": obs.model[:200] if obs.model else None,
            "status": obs.status,
            "duration_ms": round(duration * 1000, 3),
            "ttfb_ms": None if obs.ttfb is None else round(obs.ttfb * 1000, 3),
            "ttft_ms": None if obs.ttft is None else round(obs.ttft * 1000, 3),
            "wire": obs.wire,
            "translated": obs.translated,
            "tokens": obs.usage.as_dict() if obs.usage is not None else None,
            "cost_usd": None if obs.cost is None else obs.cost / 1e6,  # None with tokens: the model has no price
            "chunks": obs.chunks,
            "client_disconnected": obs.disconnected,
            "upstream_error": reason,
            "error_code": obs.error_code,
        }
        if obs.tools is not None:
            fields["tool_calls"] = obs.tools.counts()
        if obs.attempts and len(obs.attempts) > 1:  # a first try that answered says nothing more
            fields["attempts"] = obs.attempts
        if self.access_line is not None:
            self.access_line(fields)
        else:
            self.log.info("request", **fields)


OBSERVER = web.AppKey("observer", Observer)


@web.middleware
async def observe_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: finish the observation of every proxied request, however it ended."""
    try:
        response = await handler(request)
    except (asyncio.CancelledError, ConnectionResetError):
        obs = request.get(OBS)
        if obs is not None:
            obs.disconnected = True
            obs.status = obs.status or 499  # nginx's "client closed request"
            request.app[OBSERVER].finish(obs)
        raise
    obs = request.get(OBS)
    if obs is not None:
        obs.status = response.status
        request.app[OBSERVER].finish(obs)
    return response


async def name_the_target(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: say which provider and model answered (a model group's pick)."""
    obs = request.get(OBS)
    if obs is None or obs.provider == NO_PROVIDER:
        return
    response.headers["x-proxyd-provider"] = obs.provider  # a configured name: a safe header value
    model = obs.model
    if model and model.isprintable() and model.isascii() and len(model) <= 200:
        response.headers["x-proxyd-model"] = model
