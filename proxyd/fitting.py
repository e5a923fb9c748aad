"""Fitting a request to what its provider and model take (pure).

Before a chat request leaves, :func:`adapt_chat` applies the provider's ``compat`` settings
(``developer`` sent as ``system``, content-part arrays flattened, the max-tokens field renamed,
reasoning effort in the provider's form) and the model's declarations (a default
``reasoning_effort``, ``max_output_tokens``, and ``capabilities`` it lacks, which make the
request a 400 naming the model and what it lacks). :func:`adapt_responses` does the part that
applies to the Responses wire. Both return ``None`` when nothing changes, so a request that
needs nothing is relayed as its original bytes.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Any

from proxyd.config.settings import Compat, ModelEntry, Provider
from proxyd.errors import ProxyError, bad_request

Body = dict[str, Any]
_AS_SENT = Compat()
_ALNUM = string.ascii_letters + string.digits
_TEXT_PARTS = ("text", "input_text", "output_text")
_IMAGE_PARTS = ("image_url", "input_image", "image")


def adapt_chat(body: Body, provider: Provider, model: ModelEntry | None) -> tuple[Body | None, list[str]]:
    """The chat body to send instead (or None: send it as it is), and what was changed."""
    compat, notes = provider.compat, list[str]()
    if compat == _AS_SENT and _declares_nothing(model):  # most requests: nothing to look at
        return None, notes
    if model is not None:
        _check_capabilities(model, provider, bool(body.get("tools")), _chat_has_image(body))
    out = dict(body)
    _reasoning_chat(out, provider, model, notes)
    _max_tokens(out, compat, model, notes)
    if compat.developer_role == "system" or compat.content != "parts":
        out["messages"] = _messages(out.get("messages"), provider)
    if compat.tool_call_ids == "alnum9":
        out["messages"] = _short_ids(out.get("messages"))
    return (out, notes) if out != body else (None, notes)


def adapt_responses(body: Body, provider: Provider, model: ModelEntry | None) -> tuple[Body | None, list[str]]:
    """The Responses body to send instead (or None), and what was changed."""
    notes: list[str] = []
    if model is None or _declares_nothing(model):
        return None, notes
    _check_capabilities(model, provider, bool(body.get("tools")), _responses_has_image(body.get("input")))
    out = dict(body)
    reasoning = _obj(out.get("reasoning"))
    effort = reasoning.get("effort") or model.reasoning_effort
    if model.capability("reasoning") is False and "reasoning" in out:
        del out["reasoning"]
        notes.append(f"reasoning dropped: model {model.id!r} has no reasoning ({model.why_not('reasoning')})")
    elif effort and reasoning.get("effort") != effort:
        out["reasoning"] = {**reasoning, "effort": effort}
    limit, asked = model.max_output_tokens, out.get("max_output_tokens")
    if limit is not None and isinstance(asked, int) and asked > limit:
        out["max_output_tokens"] = limit
        notes.append(f"max_output_tokens {asked} lowered to the model's {limit}")
    return (out, notes) if out != body else (None, notes)


def _declares_nothing(model: ModelEntry | None) -> bool:
    return model is None or not (model.capabilities or model.reasoning_effort or model.max_output_tokens)


def _check_capabilities(model: ModelEntry, provider: Provider, tools: bool, image: bool) -> None:
    where = f"model {model.id!r} of provider {provider.name!r}"
    if tools and model.capability("tools") is False:
        raise _lacks(f"{where} has no tool support ({model.why_not('tools')}), and this request sends tools; "
                     f"remove them or pick a model with tools{_override(model, 'tools')}", "tools")  # fmt: skip
    if image and model.capability("vision") is False:
        raise _lacks(f"{where} has no vision ({model.why_not('vision')}), and this request sends an image; "
                     f"remove it or pick a vision model{_override(model, 'vision')}", "messages")  # fmt: skip


def _override(model: ModelEntry, capability: str) -> str:
    if capability not in model.listed:
        return ""
    return f"; if the listing is wrong, set capabilities.{capability}: true for this model in proxyd's config"


def streaming_off(provider: Provider, model: ModelEntry | None) -> str | None:
    """Why a stream must be made from a whole answer, or None when the provider streams."""
    if not provider.streaming:
        return f"provider {provider.name!r} has streaming turned off in proxyd's config (streaming: false)"
    if model is not None and model.capability("streaming") is False:
        return f"model {model.id!r} of provider {provider.name!r} does not stream ({model.why_not('streaming')})"
    return None


def _lacks(message: str, param: str) -> ProxyError:
    return ProxyError(400, message, code="model_capability_missing", param=param)


def _reasoning_chat(out: Body, provider: Provider, model: ModelEntry | None, notes: list[str]) -> None:
    effort = out.get("reasoning_effort")
    if effort is None and model is not None and model.reasoning_effort:
        effort = out["reasoning_effort"] = model.reasoning_effort
    if effort is None:
        return
    if provider.compat.reasoning == "none":
        del out["reasoning_effort"]
        notes.append(f"reasoning_effort {effort!r} dropped: provider {provider.name!r} takes none")
    elif model is not None and model.capability("reasoning") is False:
        del out["reasoning_effort"]
        notes.append(f"reasoning_effort {effort!r} dropped: model {model.id!r} has no reasoning "
                     f"({model.why_not('reasoning')})")  # fmt: skip
    elif provider.compat.reasoning == "openrouter":
        del out["reasoning_effort"]
        reasoning = _obj(out.get("reasoning"))
        out["reasoning"] = {**reasoning, "effort": effort}


def _max_tokens(out: Body, compat: Compat, model: ModelEntry | None, notes: list[str]) -> None:
    names = ("max_tokens", "max_completion_tokens")
    if compat.max_tokens_field != "keep":
        other = names[1] if compat.max_tokens_field == names[0] else names[0]
        if other in out:
            value = out.pop(other)
            out.setdefault(compat.max_tokens_field, value)
    limit = model.max_output_tokens if model is not None else None
    for name in names:
        asked = out.get(name)
        if limit is not None and isinstance(asked, int) and not isinstance(asked, bool) and asked > limit:
            out[name] = limit
            notes.append(f"{name} {asked} lowered to the model's max_output_tokens {limit}")


def _messages(messages: object, provider: Provider) -> object:
    if not isinstance(messages, list):
        return messages
    compat, out = provider.compat, []
    for message in messages:
        if isinstance(message, dict):
            role = message.get("role")
            if compat.developer_role == "system" and role == "developer":
                message = {**message, "role": "system"}
            flat = compat.content == "string" or (compat.content == "user-parts" and role != "user")
            if flat and isinstance(message.get("content"), list):
                message = {**message, "content": _flatten(message["content"], provider)}
        out.append(message)
    return out


def _short_ids(messages: object) -> object:
    """Tool-call ids as the 9 letters and digits Mistral takes: the same id always maps to the
    same short one, so a call and its result still match (the provider's own ids already fit)."""
    if not isinstance(messages, list):
        return messages
    out = []
    for message in messages:
        if isinstance(message, dict) and message.get("tool_calls"):
            calls = [{**c, "id": _short(c.get("id"))} if isinstance(c, dict) else c for c in message["tool_calls"]]
            message = {**message, "tool_calls": calls}
        elif isinstance(message, dict) and message.get("role") == "tool":
            message = {**message, "tool_call_id": _short(message.get("tool_call_id"))}
        out.append(message)
    return out


def _short(call_id: object) -> object:
    if not isinstance(call_id, str) or (len(call_id) == 9 and call_id.isalnum() and call_id.isascii()):
        return call_id
    digest = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    return "".join(_ALNUM[(digest >> (6 * i)) % 62] for i in range(9))


def _flatten(parts: list[Any], provider: Provider) -> str:
    texts = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _IMAGE_PARTS or kind in ("input_audio", "file", "input_file"):
            raise bad_request(
                f"provider {provider.name!r} takes text-only content in this message (compat.content: "
                f"{provider.compat.content}), and this request has a {kind} part there; remove it, or set "
                "compat.content: parts if the server takes it",
                param="messages",
            )
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, str):
            texts.append(part)
    return "\n".join(texts)


def _chat_has_image(body: Body) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    return any(
        isinstance(m, dict) and isinstance(m.get("content"), list) and _has_image(m["content"]) for m in messages
    )


def _responses_has_image(items: object) -> bool:
    if not isinstance(items, list):
        return False
    return any(isinstance(i, dict) and isinstance(i.get("content"), list) and _has_image(i["content"]) for i in items)


def _has_image(parts: list[Any]) -> bool:
    return any(isinstance(p, dict) and p.get("type") in _IMAGE_PARTS for p in parts)


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_MIN_BUDGET = 1024


def adapt_anthropic(body: Body, provider: Provider, model: ModelEntry | None) -> tuple[Body | None, list[str]]:
    """The Anthropic body to send instead (or None), and what was changed: the model's output
    limit, and what Anthropic refuses beside thinking (sampling settings, a forced tool choice,
    a budget not below ``max_tokens``)."""
    notes: list[str] = []
    out = dict(body)
    if model is not None and not _declares_nothing(model):
        _check_capabilities(model, provider, bool(body.get("tools")), _anthropic_has_image(body.get("messages")))
        limit, asked = model.max_output_tokens, out.get("max_tokens")
        if limit is not None and isinstance(asked, int) and asked > limit:
            out["max_tokens"] = limit
            notes.append(f"max_tokens {asked} lowered to the model's max_output_tokens {limit}")
    thinking = _obj(out.get("thinking"))
    if thinking.get("type") == "enabled" and _adaptive(out.get("model")):  # the newer models think by effort
        effort = next((name for budget, name in _BUDGET_EFFORTS if thinking.get("budget_tokens", 0) >= budget), "low")
        out["thinking"], out["output_config"] = (
            {"type": "adaptive"},
            {**_obj(out.get("output_config")), "effort": effort},
        )
        notes.append(f"thinking made adaptive with effort {effort!r}: model {out.get('model')!r} takes it")
        thinking = {}
    if thinking.get("type") == "enabled" and isinstance(thinking.get("budget_tokens"), int):
        budget = min(thinking["budget_tokens"], int(out.get("max_tokens") or 0) - 1)
        if budget < _MIN_BUDGET:
            del out["thinking"]
            notes.append("thinking dropped: max_tokens leaves no room for its 1024-token minimum budget")
        elif budget != thinking["budget_tokens"]:
            out["thinking"] = {**thinking, "budget_tokens": budget}
            notes.append(f"thinking budget lowered to {budget}, below max_tokens")
    if _obj(out.get("thinking")).get("type") in ("enabled", "adaptive"):
        for name in ("temperature", "top_p", "top_k"):
            if out.pop(name, None) is not None:
                notes.append(f"{name} dropped: Anthropic takes none with thinking on")
        choice = _obj(out.get("tool_choice"))
        if choice.get("type") in ("any", "tool"):
            out["tool_choice"] = {k: v for k, v in {**choice, "type": "auto"}.items() if k != "name"}
            notes.append(
                f"tool_choice {choice['type']!r} turned into 'auto': Anthropic forces no tool with thinking on"
            )
    return (out, notes) if out != body else (None, notes)


_BUDGET_EFFORTS = ((4096, "high"), (2048, "medium"), (0, "low"))
_CLAUDE_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)-(\d+)(?!\d)")


def _adaptive(model: object) -> bool:
    """Claude models from 4.6 on take ``thinking: {type: adaptive}`` with an effort."""
    found = _CLAUDE_VERSION.search(model) if isinstance(model, str) else None
    return found is not None and (int(found.group(1)), int(found.group(2))) >= (4, 6)


def _anthropic_has_image(messages: object) -> bool:
    if not isinstance(messages, list):
        return False
    return any(
        isinstance(m, dict) and isinstance(m.get("content"), list)
        and any(isinstance(b, dict) and b.get("type") == "image" for b in m["content"])
        for m in messages
    )  # fmt: skip


def drop_cache_control(body: Body) -> Body | None:
    """A translated chat body without Anthropic's cache breakpoints on its parts, for servers
    that do not take them; parts that are then plain text become text again, as a chat server
    expects them (the system prompt's joined by blank lines). ``None`` when it had none."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    out, changed = [], False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content):
            parts: Any = [{k: v for k, v in p.items() if k != "cache_control"} if isinstance(p, dict) else p
                          for p in content]  # fmt: skip
            if all(isinstance(p, dict) and p.get("type") == "text" for p in parts):
                parts = ("\n\n" if message.get("role") == "system" else "").join(p["text"] for p in parts)
            message, changed = {**message, "content": parts}, True
        out.append(message)
    return {**body, "messages": out} if changed else None
