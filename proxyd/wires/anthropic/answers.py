"""Whole Anthropic messages to and from the pivot (pure), and the maps both directions share:
stop reasons, usage, and the error shape."""

from __future__ import annotations

import json
from typing import Any

Body = dict[str, Any]

TO_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}  # fmt: skip
FROM_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    408: "timeout_error", 413: "request_too_large", 415: "invalid_request_error", 417: "invalid_request_error",
    429: "rate_limit_error", 529: "overloaded_error",
}  # fmt: skip


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_object(message: str, status: int) -> Body:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def usage_to_chat(usage: object) -> Body:
    """Anthropic usage as chat usage: cache reads and writes are prompt tokens too."""
    u = usage if isinstance(usage, dict) else {}
    read, written = _int(u.get("cache_read_input_tokens")), _int(u.get("cache_creation_input_tokens"))
    prompt, completion = _int(u.get("input_tokens")) + read + written, _int(u.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        # cache writes have no field of OpenAI's own: OpenRouter's name for them
        "prompt_tokens_details": {"cached_tokens": read, **({"cache_write_tokens": written} if written else {})},
    }


def usage_from_chat(usage: object) -> Body:
    """Chat (or Responses) usage as Anthropic's: its ``input_tokens`` leaves out the cache's."""
    u = usage if isinstance(usage, dict) else {}
    details = u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}
    cached, written = _int(details.get("cached_tokens")), _int(details.get("cache_write_tokens"))
    prompt = _int(u.get("prompt_tokens", u.get("input_tokens")))
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "output_tokens": _int(u.get("completion_tokens", u.get("output_tokens"))),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


def assistant_message(blocks: object) -> tuple[Body, list[tuple[int, object]]]:
    """An assistant turn's content blocks as a pivot message, and the blocks it has no form for
    (their index and type): text, tool calls, and thinking with its signature."""
    text, thinking, signed, calls, unknown = [], [], [], [], []
    for j, block in enumerate(blocks if isinstance(blocks, list) else []):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
            signed.append(
                {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "")}
            )
        elif kind == "redacted_thinking":
            signed.append({"type": "redacted_thinking", "data": block.get("data", "")})
        elif kind == "tool_use":
            fn = {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})}
            calls.append({"id": block.get("id"), "type": "function", "function": fn})
        else:
            unknown.append((j, kind))
    out: Body = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        out["tool_calls"] = calls
    if thinking:
        out["reasoning_content"] = "".join(thinking)
    if signed:
        out["thinking_blocks"] = signed
    return out, unknown


def message_to_completion(message: Body, model: str) -> Body:
    """An Anthropic message as a pivot completion."""
    out, _ = assistant_message(message.get("content"))
    finish = TO_FINISH.get(str(message.get("stop_reason")), "stop")
    return {
        "id": f"chatcmpl-{str(message.get('id') or 'proxyd').removeprefix('msg_')}",
        "object": "chat.completion",
        "created": 0,
        "model": model or message.get("model", ""),
        "choices": [{"index": 0, "message": out, "finish_reason": finish}],
        "usage": usage_to_chat(message.get("usage")),
    }


def completion_to_message(completion: Body, message_id: str, model: str) -> Body:
    """A pivot completion as an Anthropic message (for JSON answers to Anthropic clients)."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    msg = choice.get("message") or {}
    content: list[Body] = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    signed = [b for b in msg.get("thinking_blocks") or [] if isinstance(b, dict)]
    if signed:
        content += signed
    elif isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if isinstance(msg.get("content"), str) and msg["content"]:
        content.append({"type": "text", "text": msg["content"]})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": fn.get("name"),
                "input": _json_object(fn.get("arguments")),
            }
        )
    tools_sent = any(b["type"] == "tool_use" for b in content)
    stop = FROM_FINISH.get(str(choice.get("finish_reason")), "end_turn")
    if stop == "tool_use" and not tools_sent:
        stop = "end_turn"  # a tool_use stop without a tool block stalls clients
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage_from_chat(completion.get("usage")),
    }


def _json_object(arguments: object) -> Body:
    try:
        value = json.loads(str(arguments or "{}"))
    except ValueError:
        return {"_raw": str(arguments)}  # a model's broken arguments, kept for the client to see
    return value if isinstance(value, dict) else {"value": value}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
