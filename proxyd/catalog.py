"""The merged model list served at ``GET /v1/models``: ids ``provider/model`` plus aliases."""

from __future__ import annotations

from typing import Any

from proxyd.config import Config, ModelEntry, Provider


def model_objects(config: Config) -> list[dict[str, Any]]:
    """OpenAI ``model`` objects for every configured model and alias, in config order."""
    out: list[dict[str, Any]] = []
    for provider in config.providers:
        for entry in provider.models:
            out.append(_model_object(f"{provider.name}/{entry.id}", provider, entry))
            if entry.alias:
                out.append(_model_object(entry.alias, provider, entry))
    return out


def find_model(config: Config, model_id: str) -> dict[str, Any] | None:
    return next((m for m in model_objects(config) if m["id"] == model_id), None)


def _model_object(model_id: str, provider: Provider, entry: ModelEntry) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": model_id, "object": "model", "created": 0, "owned_by": provider.name}
    obj["upstream_id"] = entry.id
    if entry.context_window is not None:
        obj["context_window"] = entry.context_window
    if entry.capabilities:
        obj["capabilities"] = dict(entry.capabilities)
    if entry.tags:
        obj["tags"] = list(entry.tags)
    return obj
