"""Prometheus metrics (prometheus-client), one registry per app so nothing is global.

Names follow Prometheus conventions: base units (seconds), ``_total`` counters. Labels only
ever take configured names (provider, catalog models, clients of ``listen.tokens``), fixed
words (endpoint, wire, reason, state, token kind) or an HTTP status code, never raw client
input: a model the catalog does not know is counted as ``other``, a request that reached no
provider as ``none``.

Labelled children are cached per label tuple, because ``labels()`` validates and locks on
every call and every proxied request touches several series.

Under ``serve --workers N`` each worker writes its series to files in a shared directory
(prometheus-client's multiprocess mode) and ``/metrics`` sums every worker's: counters and
histograms add up, in-flight requests add up over live workers, and the health gauges show the
most recent value any worker set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from itertools import permutations
from typing import Any, Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from proxyd import __version__
from proxyd.errors import FAILURES
from proxyd.wires.registry import FALLBACK_ORDER, WIRES

# From a 0.5 ms proxy hop to a 20-minute stream.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
)  # fmt: skip
STATES = ("ok", "degraded", "unreachable", "misconfigured")
# A local server's states (proxyd.local.plan.STATES), and how long its loads take: seconds to minutes.
LOCAL_STATES = ("stopped", "starting", "ready", "stopping", "crashed")
LOAD_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
NO_PROVIDER = "none"
OTHER_MODEL = "other"
# Label values known in advance: their series exist at 0 from the start, so an alert on
# increase() or a dashboard panel sees 0, not "no data", until the first event.
RELOAD_RESULTS = ("success", "failure")
REFUSAL_REASONS = ("host", "origin", "token", "role")
STORE_OPERATIONS = ("get", "put", "delete")
# The labels of errors.FAILURES, and the two status classes an answer's failure counts as
UPSTREAM_REASONS = (*(f.label for f in FAILURES.values()), "status_5xx", "status_4xx")
FALLBACKS = tuple(permutations(FALLBACK_ORDER, 2))  # wire: auto's usual moves: at 0 from the start
TRANSLATIONS = tuple(permutations(WIRES, 2))  # (from, to): every pair of wires proxyd translates between


class Metrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        """``multiprocess_dir``: the workers' shared directory, when this is one of them."""
        self.registry = CollectorRegistry()
        self._request_series(self.registry)
        self._upstream_series(self.registry)
        self._health_series(self.registry)
        self._local_series(self.registry)
        self._exported = self.registry
        if multiprocess_dir is not None:
            self._exported = CollectorRegistry()
            MultiProcessCollector(self._exported, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        # An Info has no multiprocess form; every worker is the same build.
        self.build = Info("proxyd_build", "The running proxyd", registry=self._exported)
        self.build.info({"version": __version__})
        self._children: dict[tuple[Any, ...], Any] = {}
        for result in RELOAD_RESULTS:
            self.reloads.labels(result)
        for reason in REFUSAL_REASONS:
            self.child(self.refused, reason)
        for source, target in TRANSLATIONS:
            self.translations.labels(source, target)
        for operation in STORE_OPERATIONS:
            self.child(self.store_errors, operation)

    def know_providers(self, names: Iterable[str]) -> None:
        """Start each configured provider's counters at 0 (at start, and for providers a reload adds)."""
        for name in names:
            for reason in UPSTREAM_REASONS:
                self.child(self.upstream_errors, name, reason)
            for counter in (self.disconnects, self.chunks):
                self.child(counter, name)
            for source, target in FALLBACKS:
                self.child(self.fallbacks, name, source, target)
            self.child(self.inflight, name)

    def _request_series(self, r: CollectorRegistry) -> None:
        self.requests = Counter(
            "proxyd_requests", "Requests proxied, by HTTP status sent and client (listen.tokens)",
            ["provider", "endpoint", "status", "client"], registry=r,
        )  # fmt: skip
        self.duration = _latency(
            r, "proxyd_request_duration_seconds", "Time from request to the end of the response (streams included)",
            "provider", "endpoint",
        )  # fmt: skip
        self.ttfb = _latency(
            r, "proxyd_upstream_ttfb_seconds", "Time until the provider's response head arrived", "provider"
        )
        self.ttft = _latency(
            r, "proxyd_time_to_first_token_seconds", "Time until the first generated token of a stream arrived",
            "provider", "endpoint",
        )  # fmt: skip
        self.chunks = Counter("proxyd_stream_chunks", "Stream chunks relayed to clients", ["provider"], registry=r)
        self.disconnects = Counter(
            "proxyd_client_disconnects", "Clients that left before their answer was complete", ["provider"], registry=r
        )
        self.refused = Counter(
            "proxyd_refused_requests",
            "Requests refused by the local-access checks, by reason (host, origin, token, role)",
            ["reason"],
            registry=r,
        )

    def _upstream_series(self, r: CollectorRegistry) -> None:
        self.inflight = Gauge(
            "proxyd_inflight_requests", "Requests being answered now", ["provider"], registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.tokens = Counter(
            "proxyd_tokens", "Tokens reported in usage, by kind (prompt counts the cache's too) and client",
            ["provider", "model", "kind", "client"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "proxyd_rate_limited", "Requests refused over a client's limit or budget, by limit",
            ["client", "limit"], registry=r,
        )  # fmt: skip
        self.budget_used = Gauge(
            "proxyd_budget_used_ratio", "What a client or provider spent of its budget this period (1 is all of it)",
            ["kind", "name", "period"], registry=r, multiprocess_mode="max",
        )  # fmt: skip
        self.cost = Counter(
            "proxyd_cost_usd", "What requests cost in US dollars, at the model's price (unpriced models add nothing)",
            ["provider", "model", "client"], registry=r,
        )  # fmt: skip
        self.translations = Counter(
            "proxyd_translations",
            "Requests translated between the Responses API and Chat Completions",
            ["from", "to"],
            registry=r,
        )
        self.fallbacks = Counter(
            "proxyd_fallbacks",
            "wire: auto providers (or models) found to refuse a wire, so proxyd now speaks the other "
            "(from: the wire refused, to: the one that answered)",
            ["provider", "from", "to"],
            registry=r,
        )
        self.failovers = Counter(
            "proxyd_failovers",
            "Model-group requests moved from one target to the next, by the first one's failure",
            ["group", "from", "to", "reason"],
            registry=r,
        )
        self.retries = Counter(
            "proxyd_retries", "Model-group attempts made again on the same target, by the failure",
            ["provider", "reason"], registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "proxyd_tool_calls",
            "Tool calls in answers to requests that offered tools, by what proxyd found "
            "(ok, invalid_json, schema_mismatch, unknown_tool, in_text, repaired)",
            ["provider", "model", "result"],
            registry=r,
        )
        self.store_errors = Counter(
            "proxyd_store_errors",
            "Calls to the response store that failed, by operation (get, put, delete)",
            ["operation"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "proxyd_upstream_errors",
            "Upstream failures by reason (connect, tls, timeout, status_5xx, status_4xx, protocol)",
            ["provider", "reason"],
            registry=r,
        )

    def _health_series(self, r: CollectorRegistry) -> None:
        recent: Final = "livemostrecent"  # under --workers: what the last live worker to look saw
        self.provider_up = Gauge(
            "proxyd_provider_up", "1 when the provider's last health state is ok or degraded", ["provider"],
            registry=r, multiprocess_mode=recent,
        )  # fmt: skip
        self.provider_state = Gauge(
            "proxyd_provider_state", "The provider's health state: one of the states is 1", ["provider", "state"],
            registry=r, multiprocess_mode=recent,
        )  # fmt: skip
        self.probe_seconds = Gauge(
            "proxyd_provider_probe_seconds", "Duration of the last health probe (GET /models)", ["provider"],
            registry=r, multiprocess_mode=recent,
        )  # fmt: skip
        self.reloads = Counter("proxyd_config_reloads", "Config reloads by result", ["result"], registry=r)
        self.last_reload = Gauge(
            "proxyd_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load",
            registry=r,
            multiprocess_mode="max",
        )

    def _local_series(self, r: CollectorRegistry) -> None:
        self.local_server_state = Gauge(
            "proxyd_local_server_state", "A local server proxyd runs: one of the states is 1", ["provider", "state"],
            registry=r, multiprocess_mode="livemostrecent",
        )  # fmt: skip
        self.local_start_seconds = Histogram(
            "proxyd_local_start_seconds", "Time from starting a local server to its first answer to the ready check",
            ["provider"], buckets=LOAD_BUCKETS, registry=r,
        )  # fmt: skip
        self.local_starts = Counter("proxyd_local_starts", "Local servers started", ["provider"], registry=r)
        self.local_crashes = Counter(
            "proxyd_local_crashes", "Local servers that exited on their own or never became ready", ["provider"],
            registry=r,
        )  # fmt: skip
        self.local_stops = Counter(
            "proxyd_local_stops", "Local servers stopped by proxyd, by reason (idle, room, admin, reload, shutdown...)",
            ["provider", "reason"], registry=r,
        )  # fmt: skip

    def local_state(self, provider: str, state: str) -> None:
        for name in LOCAL_STATES:
            self.child(self.local_server_state, provider, name).set(1.0 if name == state else 0.0)

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def set_state(self, provider: str, state: str) -> None:
        for name in STATES:
            self.provider_state.labels(provider, name).set(1.0 if name == state else 0.0)
        self.provider_up.labels(provider).set(1.0 if state in ("ok", "degraded") else 0.0)

    def forget_provider(self, provider: str) -> None:
        """Drop the gauges of a provider a reload removed (its counters keep their history)."""
        for gauge, label_sets in (
            (self.provider_up, [(provider,)]),
            (self.probe_seconds, [(provider,)]),
            (self.provider_state, [(provider, s) for s in STATES]),
            (self.inflight, [(provider,)]),
        ):
            for labels in label_sets:
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
        self._children = {k: v for k, v in self._children.items() if provider not in k[1:]}

    def response(self) -> web.Response:
        # The classic text format: every Prometheus 2.x (Debian's included) reads it.
        headers = {"Content-Type": CONTENT_TYPE_PLAIN_0_0_4, "Cache-Control": "no-store"}
        return web.Response(body=generate_latest(self._exported), headers=headers)


def _latency(registry: CollectorRegistry, name: str, text: str, *labels: str) -> Histogram:
    return Histogram(name, text, list(labels), buckets=LATENCY_BUCKETS, registry=registry)


METRICS = web.AppKey("metrics", Metrics)
