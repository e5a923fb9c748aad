"""What the page shows, as JSON (pure).

One document per poll: each provider's card (state, latency history, detected wire, the last
problem in words with its fix, the last Test), its model rows, and the traffic. Keys never
appear: a provider shows where its key comes from. Model rows are what ``GET /v1/models``
lists, plus what discovery found beyond it, so a value can be set for any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from proxyd.catalog import catalog_of
from proxyd.config.settings import DEFAULT_CONTEXT_WINDOW, Config, ModelEntry, Provider
from proxyd.diagnosis import Diagnosis
from proxyd.learned import LearnedWire
from proxyd.reachability import ProviderHealth
from proxyd.routing import Router
from proxyd.traffic import Record, as_rows, summarize

BADGES = ("vision", "tools", "reasoning")  # shown as VISION / TOOLS / THINKING


def document(
    config: Config,
    router: Router,
    health: Mapping[str, ProviderHealth],
    problems: Mapping[str, Diagnosis | None],
    tests: Mapping[str, dict[str, Any]],
    traffic: Iterable[Record],
    now: float,
    groups: list[dict[str, Any]] | None = None,
    tool_calls: Mapping[str, Mapping[str, dict[str, Any]]] | None = None,
    wires: Mapping[str, LearnedWire] | None = None,
) -> dict[str, Any]:
    """``groups``: :func:`proxyd.failover.group_report` of the model groups; ``tool_calls``: per
    provider, each model's tool-call report (:class:`proxyd.toolcalls.verdicts.ToolHealth`);
    ``wires``: what each ``wire: auto`` provider showed of its wire."""
    records = list(traffic)
    learned = wires or {}
    cards = [card(p, router, health.get(p.name), problems.get(p.name), tests.get(p.name), learned.get(p.name))
             for p in config.providers]  # fmt: skip
    for one in cards:
        reports = (tool_calls or {}).get(one["name"], {})
        for model in one["models"]:
            model["tool_calls"] = reports.get(model["id"])
        one["tool_calls_other"] = reports.get("other")  # models outside the catalog, counted together
    return {
        "groups": groups or [],
        "now": now,
        "providers": cards,
        "default_provider": config.default_provider,
        "traffic": {"recent": as_rows(records), "by_provider": summarize(records, now)},
    }


def card(
    provider: Provider,
    router: Router,
    health: ProviderHealth | None,
    problem: Diagnosis | None,
    test: dict[str, Any] | None,
    learned: LearnedWire | None = None,
) -> dict[str, Any]:
    state = health.as_json() if health is not None else {"state": "unknown", "error": None, "probe": {}}
    detected = (learned.wire if learned else None) or (provider.wire if provider.wire != "auto" else None)
    latency = state["probe"].get("latency_s")
    return {
        "name": provider.name,
        "base_url": provider.base_url,
        "key": provider.key_source,
        "wire": provider.wire,
        "detected_wire": detected,
        "detected_wire_reason": learned.reason if learned else None,
        "state": state["state"],
        "error": state["error"],
        "cause": problem.cause if problem else None,
        "fix": problem.fix if problem else None,
        "diagnosis": problem.as_json() if problem else None,  # the page says it in its reader's language
        "latency_ms": None if latency is None else round(latency * 1000, 1),
        "probed_at": state["probe"].get("at"),
        "history": [[at, None if s is None else round(s * 1000, 1), st] for at, s, st in health.history]
        if health is not None
        else [],
        "default_model": provider.default_model,
        "test": test,
        "models": model_rows(provider, router),
    }


def model_rows(provider: Provider, router: Router) -> list[dict[str, Any]]:
    rows = [row(entry, source, window) for entry, source, window in catalog_of(provider, router)]
    shown = {r["id"] for r in rows}
    for entry in router.discovered.get(provider.name, ()):
        if entry.id not in shown:  # found by discovery, not listed while models are configured
            rows.append(row(entry, "unlisted", "provider" if entry.context_window else "default"))
    return rows


def row(entry: ModelEntry, source: str, window: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "alias": entry.alias,
        "source": source,  # config, discovered, or unlisted (discovered, not in /v1/models)
        "context_window": entry.context_window or DEFAULT_CONTEXT_WINDOW,
        "context_window_source": window,  # config, provider, or default (the 128k guess)
        "max_output_tokens": entry.max_output_tokens,
        "capabilities": {name: entry.capability(name) for name in BADGES},
        "tags": list(entry.tags),
    }
