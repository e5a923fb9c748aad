"""The merged model list served at ``GET /v1/models``: ids ``provider/model`` plus aliases and
model groups (pure).

A provider that configures no ``models`` (or sets ``list_discovered``) shows what its
``GET /models`` listed (discovered by the health probes), marked ``"source": "discovered"``.
Metadata the listing gave (context window, output limit, capabilities: see
:mod:`proxyd.listing`) fills what the config leaves empty;
``context_window_source`` says where a window came from when it was not the config:
``"provider"`` (the listing) or ``"default"`` (nobody said; 128k is shown).
"""

from __future__ import annotations

import difflib
from typing import Any

from proxyd.config.settings import DEFAULT_CONTEXT_WINDOW, ModelEntry, Provider
from proxyd.routing import Router


def model_objects(router: Router) -> list[dict[str, Any]]:
    """OpenAI ``model`` objects for every configured (or discovered) model and alias, in config order."""
    out: list[dict[str, Any]] = []
    for provider in router.config.providers:
        for entry, source, window in catalog_of(provider, router):
            out.append(_model_object(f"{provider.name}/{entry.id}", provider, entry, source, window))
            if entry.alias:
                out.append(_model_object(entry.alias, provider, entry, source, window))
    for group in router.config.groups:
        if "*" not in group.alias and "?" not in group.alias:  # a pattern is not a model id
            targets = [t.key for t in group.targets]
            out.append({"id": group.alias, "object": "model", "created": 0, "owned_by": "proxyd",
                        "source": "group", "group": {"strategy": group.strategy, "targets": targets}})  # fmt: skip
    return out


def catalog_of(provider: Provider, router: Router) -> list[tuple[ModelEntry, str, str]]:
    """A provider's models: each entry, where it came from (``config`` or ``discovered``), and
    where its context window came from (``config``, ``provider`` or ``default``)."""
    out = []
    for m in provider.models:
        entry = router.model(provider.name, m.id) or m
        out.append((entry, "config", "config" if m.context_window else _window_source(entry)))
    if provider.models and not provider.list_discovered:
        return out
    configured = {m.id for m in provider.models}
    listed = router.discovered.get(provider.name, ())
    return out + [(m, "discovered", _window_source(m)) for m in listed if m.id not in configured]


def find_model(router: Router, model_id: str) -> dict[str, Any] | None:
    return next((m for m in model_objects(router) if m["id"] == model_id), None)


def _window_source(entry: ModelEntry) -> str:
    return "provider" if entry.context_window else "default"


def _model_object(model_id: str, provider: Provider, entry: ModelEntry, source: str, window: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": model_id, "object": "model", "created": 0, "owned_by": provider.name}
    obj["upstream_id"] = entry.id
    obj["source"] = source
    # Declared metadata as extra fields, for clients that read them; a window nobody gave is
    # shown as the common 128k, marked so a client can tell it is a guess.
    obj["context_window"] = entry.context_window or DEFAULT_CONTEXT_WINDOW
    if window != "config":
        obj["context_window_source"] = window
    if entry.max_output_tokens is not None:
        obj["max_output_tokens"] = entry.max_output_tokens
    if entry.reasoning_effort is not None:
        obj["reasoning_effort"] = entry.reasoning_effort
    if entry.capabilities:
        obj["capabilities"] = dict(entry.capabilities)
    if entry.tags:
        obj["tags"] = list(entry.tags)
    return obj


def not_in_catalog(router: Router, provider: str, model: str | None) -> str | None:
    """proxyd's view of a model the provider said it does not have, when proxyd knows no such
    model either (it went to the default provider, or by its provider/ prefix): the nearest names
    it does know, and where to see them all. None when the model is in the catalog (the provider's words are enough)."""
    if model is None or router.known(provider, model):
        return None
    names = [str(m["id"]) for m in model_objects(router)]
    if model in names:
        return None
    near = difflib.get_close_matches(model, names, n=3, cutoff=0.4)
    if near:
        closest = f"; the nearest it knows: {', '.join(near)}"
    else:  # nothing alike: a short catalog is worth showing whole
        closest = f"; it knows: {', '.join(names)}" if 0 < len(names) <= 8 else ""
    return (
        f"proxyd: no provider's catalog lists {model!r}, so it went to provider {provider!r} as asked"
        f"{closest} (proxyd models or GET /v1/models lists every name)"
    )
