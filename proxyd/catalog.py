"""The merged model list served at ``GET /v1/models``: ids ``provider/model`` plus aliases.

A provider that configures no ``models`` shows what its ``GET /models`` listed (discovered by
the health probes), marked ``"source": "discovered"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxyd.config import Config, ModelEntry, Provider
from proxyd.settings import DEFAULT_CONTEXT_WINDOW

Discovered = Mapping[str, tuple[str, ...]]


def model_objects(config: Config, discovered: Discovered | None = None) -> list[dict[str, Any]]:
    """OpenAI ``model`` objects for every configured (or discovered) model and alias, in config order."""
    out: list[dict[str, Any]] = []
    for provider in config.providers:
        for entry, source in catalog_of(provider, discovered):
            out.append(_model_object(f"{provider.name}/{entry.id}", provider, entry, source))
            if entry.alias:
                out.append(_model_object(entry.alias, provider, entry, source))
    return out


def catalog_of(provider: Provider, discovered: Discovered | None) -> list[tuple[ModelEntry, str]]:
    """A provider's models with where each came from: ``config`` or ``discovered``."""
    if provider.models:
        return [(m, "config") for m in provider.models]
    return [(ModelEntry(id=i), "discovered") for i in (discovered or {}).get(provider.name, ())]


def find_model(config: Config, model_id: str, discovered: Discovered | None = None) -> dict[str, Any] | None:
    return next((m for m in model_objects(config, discovered) if m["id"] == model_id), None)


def _model_object(model_id: str, provider: Provider, entry: ModelEntry, source: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": model_id, "object": "model", "created": 0, "owned_by": provider.name}
    obj["upstream_id"] = entry.id
    obj["source"] = source
    # Declared metadata as extra fields, for clients that read them; a window nobody gave is
    # shown as the common 128k, marked so a client can tell it is a guess.
    obj["context_window"] = entry.context_window or DEFAULT_CONTEXT_WINDOW
    if entry.context_window is None:
        obj["context_window_source"] = "default"
    if entry.max_output_tokens is not None:
        obj["max_output_tokens"] = entry.max_output_tokens
    if entry.reasoning_effort is not None:
        obj["reasoning_effort"] = entry.reasoning_effort
    if entry.capabilities:
        obj["capabilities"] = dict(entry.capabilities)
    if entry.tags:
        obj["tags"] = list(entry.tags)
    return obj
