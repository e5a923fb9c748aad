"""The Responses ``response`` object proxyd builds for a translated answer (pure).

Every field the openai SDK requires and the Open Responses schema names is present (nullable
where the schema allows), so strict clients accept the object; request settings are echoed.
"""

from __future__ import annotations

from typing import Any

_ECHOED_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "previous_response_id": None,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_logprobs": 0,
    "truncation": "disabled",
    "user": None,
    "store": True,
    "background": False,
    "safety_identifier": None,
    "prompt_cache_key": None,
    "parallel_tool_calls": True,
    "tool_choice": "auto",
}

# A reasoning item's encrypted_content that proxyd made from an Anthropic provider's thinking
# signature starts with this; only such content goes back to an Anthropic provider as a
# signature (OpenAI's own encrypted reasoning must never be sent there).
SIGNED = "proxyd.anthropic-signature."


def new_response(request: dict[str, Any], response_id: str, created_at: int, model: str) -> dict[str, Any]:
    """The object ``response.created`` carries: in progress, no output yet."""
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "usage": None,
    }
    for name, default in _ECHOED_DEFAULTS.items():
        value = request.get(name)
        response[name] = default if value is None else value
    response["metadata"] = request.get("metadata") or {}
    response["text"] = request.get("text") or {"format": {"type": "text"}}
    response["reasoning"] = _reasoning(request.get("reasoning"))
    response["tools"] = [_echo_tool(t) for t in request.get("tools") or [] if isinstance(t, dict)]
    response["service_tier"] = "default"
    response["presence_penalty"] = 0.0
    response["frequency_penalty"] = 0.0
    return response


def usage_from_chat(usage: object) -> dict[str, Any]:
    """Chat ``usage`` as Responses usage, every details field present (zeros when unknown)."""
    u = _dict(usage)
    prompt_details, completion_details = (
        _dict(u.get("prompt_tokens_details")),
        _dict(u.get("completion_tokens_details")),
    )
    input_tokens = _int(u.get("prompt_tokens"))
    output_tokens = _int(u.get("completion_tokens"))
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": _int(prompt_details.get("cached_tokens")),
            "cache_write_tokens": _int(prompt_details.get("cache_write_tokens")),
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": _int(completion_details.get("reasoning_tokens"))},
        "total_tokens": _int(u.get("total_tokens")) or input_tokens + output_tokens,
    }


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _reasoning(raw: object) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    return {"effort": raw.get("effort"), "summary": raw.get("summary")}


def _echo_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") == "function":
        return {"strict": False, "description": None, "parameters": None, **tool}
    return dict(tool)


# Error codes: the openai SDK accepts a fixed set (server_error, rate_limit_exceeded, ...); Codex
# also acts on context_length_exceeded and insufficient_quota (it stops retrying and says why),
# so those two are sent although the SDK's enum lacks them. Everything else is server_error,
# which Codex retries.
_CODEX_CODES = ("context_length_exceeded", "rate_limit_exceeded", "insufficient_quota")


def failure_of(error: object) -> tuple[str, str]:
    """(message, code) of ``response.failed`` for an error a provider reported mid-stream."""
    err = error if isinstance(error, dict) else {"message": str(error)}
    message = str(err.get("message") or "the provider reported an error")
    code = str(err.get("code") or err.get("type") or "")
    lowered = message.lower()
    if code not in _CODEX_CODES:
        if "context" in lowered and ("length" in lowered or "window" in lowered):
            code = "context_length_exceeded"
        elif "rate limit" in lowered:
            code = "rate_limit_exceeded"
        else:
            code = "server_error"
    return f"provider error: {message}", code
