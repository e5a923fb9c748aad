"""What a provider's ``GET /models`` answer says: its model ids, and the metadata some services add (pure).

The OpenAI shape is ``{"data": [{"id": ...}]}``; several services put more on each model, each
in its own words. What proxyd reads, and from whom:

- context window: ``context_window`` (Groq), ``max_model_len`` (vLLM), ``context_length``
  (OpenRouter, Together, Fireworks), ``max_context_length`` (Mistral),
  ``top_provider.context_length`` (OpenRouter);
- output limit: ``max_completion_tokens`` (Groq), ``top_provider.max_completion_tokens``
  (OpenRouter), ``max_output_tokens``;
- vision: ``architecture.input_modalities`` or ``architecture.modality`` (OpenRouter),
  ``capabilities.vision`` (Mistral), ``supports_image_input`` (Fireworks);
- tools: ``supported_parameters`` (OpenRouter), ``capabilities.function_calling`` (Mistral),
  ``supports_tools`` (Fireworks); reasoning: ``supported_parameters`` (OpenRouter).

Ollama's listing says none of it; its ``POST /api/show`` answers a model's ``model_info``,
whose ``<architecture>.context_length`` is the window (:func:`ollama_window`, :func:`with_windows`).

Anything else, or a value of the wrong type, is ignored: a listing only ever fills what the
config leaves empty (:func:`merged`), so a value the user set sticks across every refresh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from proxyd.config.settings import ModelEntry

MAX_MODELS = 5000  # a catalog larger than this is cut (labels and memory stay bounded)
_MAX_TOKENS = 100_000_000  # larger is not a window, it is a bug in the listing
_WINDOW_KEYS = ("context_window", "max_model_len", "context_length", "max_context_length", "inputTokenLimit")
_OUTPUT_KEYS = ("max_completion_tokens", "max_output_tokens", "outputTokenLimit")


def models_in_listing(body: object) -> tuple[ModelEntry, ...] | None:
    """The models of an OpenAI ``/models`` answer (or Gemini's ``models``, named ``models/{id}``),
    in its order, ids unique; None when it has no list."""
    data = body.get("data") if isinstance(body, dict) else None
    gemini = data is None and isinstance(body, dict) and isinstance(body.get("models"), list)
    if gemini:
        data = body["models"]  # type: ignore[index]
    if not isinstance(data, list):
        return None
    found: dict[str, ModelEntry] = {}
    for item in data:
        model_id = item.get("name" if gemini else "id") if isinstance(item, dict) else None
        if gemini and isinstance(model_id, str):
            model_id = model_id.removeprefix("models/")
        if isinstance(model_id, str) and 0 < len(model_id) <= 256 and model_id not in found:
            found[model_id] = _entry(model_id, item)
            if len(found) == MAX_MODELS:
                break
    return tuple(found.values())


def next_page(body: object) -> str | None:
    """The query of the next page of a paged listing: Anthropic's ``has_more``/``last_id``, or
    Gemini's ``nextPageToken``; None on the last page."""
    if not isinstance(body, dict):
        return None
    if body.get("has_more") is True and isinstance(body.get("last_id"), str):
        return f"after_id={quote(body['last_id'])}&limit=1000"
    token = body.get("nextPageToken")
    return f"pageToken={quote(token)}&pageSize=1000" if isinstance(token, str) and token else None


def merged(configured: ModelEntry, listed: ModelEntry | None) -> ModelEntry:
    """``configured`` with the gaps filled from what the listing said; set values always win."""
    if listed is None:
        return configured
    declared = {name for name, _ in configured.capabilities}
    extra = tuple((name, flag) for name, flag in listed.capabilities if name not in declared)
    filled = {name for name, _ in extra}
    if configured.context_window is None and listed.context_window is not None:
        filled.add("context_window")
    if configured.max_output_tokens is None and listed.max_output_tokens is not None:
        filled.add("max_output_tokens")
    if not filled:
        return configured
    return dataclasses.replace(
        configured,
        context_window=configured.context_window or listed.context_window,
        max_output_tokens=configured.max_output_tokens or listed.max_output_tokens,
        capabilities=configured.capabilities + extra,
        listed=frozenset(filled),
    )


def _entry(model_id: str, item: Mapping[str, Any]) -> ModelEntry:
    top = item.get("top_provider")
    top = top if isinstance(top, dict) else {}
    window = _first_count(item, _WINDOW_KEYS) or _first_count(top, ("context_length",))
    output = _first_count(item, _OUTPUT_KEYS) or _first_count(top, ("max_completion_tokens",))
    caps = {"vision": _vision(item), "tools": _tools(item), "reasoning": _parameter(item, "reasoning")}
    capabilities = tuple((name, flag) for name, flag in caps.items() if flag is not None)
    said = {name for name, _ in capabilities}
    said |= {name for name, value in (("context_window", window), ("max_output_tokens", output)) if value}
    return ModelEntry(
        id=model_id, context_window=window, max_output_tokens=output, capabilities=capabilities, listed=frozenset(said)
    )


def _first_count(obj: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = obj.get(key)
        if type(value) is int and 0 < value <= _MAX_TOKENS:  # not bool, not a float
            return value
    return None


def _vision(item: Mapping[str, Any]) -> bool | None:
    arch = item.get("architecture")
    if isinstance(arch, dict):
        inputs = arch.get("input_modalities")
        if isinstance(inputs, list):
            return "image" in inputs
        modality = arch.get("modality")
        if isinstance(modality, str) and "->" in modality:
            return "image" in modality.split("->", 1)[0].split("+")
    return _flag(item, "vision", "supports_image_input")


def _tools(item: Mapping[str, Any]) -> bool | None:
    listed = _parameter(item, "tools")
    return listed if listed is not None else _flag(item, "function_calling", "supports_tools")


def _parameter(item: Mapping[str, Any], name: str) -> bool | None:
    """OpenRouter lists the request parameters a model takes: a missing one is not supported."""
    params = item.get("supported_parameters")
    if not isinstance(params, list):
        return None
    return name in params


def _flag(item: Mapping[str, Any], capability: str, top_level: str) -> bool | None:
    caps = item.get("capabilities")
    if isinstance(caps, dict) and type(caps.get(capability)) is bool:
        return bool(caps[capability])
    value = item.get(top_level)
    return value if type(value) is bool else None


def ollama_window(body: object) -> int | None:
    """The context window in an Ollama ``/api/show`` answer (``model_info["llama.context_length"]``...)."""
    info = body.get("model_info") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        return None
    counts = (v for k, v in info.items() if k.endswith(".context_length") and type(v) is int)
    return next((v for v in counts if 0 < v <= _MAX_TOKENS), None)


def props_window(body: object) -> int | None:
    """The context of each request slot in llama.cpp's ``/props`` answer
    (``default_generation_settings.n_ctx``; some builds put ``n_ctx`` at the top)."""
    if not isinstance(body, dict):
        return None
    settings = body.get("default_generation_settings")
    value = settings.get("n_ctx") if isinstance(settings, dict) else body.get("n_ctx")
    return value if type(value) is int and 0 < value <= _MAX_TOKENS else None


def with_windows(models: tuple[ModelEntry, ...], windows: Mapping[str, int]) -> tuple[ModelEntry, ...]:
    """The listing's models with the windows found elsewhere filled in (as the listing's own)."""
    return tuple(
        dataclasses.replace(m, context_window=windows[m.id], listed=m.listed | {"context_window"})
        if m.context_window is None and m.id in windows else m
        for m in models
    )  # fmt: skip


def looks_like_ollama(body: object) -> bool:
    """Whether a ``/v1/models`` answer is Ollama's (its models are ``owned_by: library``), on any port."""
    data = body.get("data") if isinstance(body, dict) else None
    return isinstance(data, list) and bool(data) and all(
        isinstance(m, dict) and m.get("owned_by") == "library" for m in data[:20])  # fmt: skip
