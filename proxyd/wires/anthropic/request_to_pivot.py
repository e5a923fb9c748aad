"""An Anthropic Messages request (Claude Code, the anthropic SDK) in the pivot's form (pure).

``system`` (a string or text blocks) becomes the first system message; ``tool_use`` blocks
become the assistant's ``tool_calls``, ``tool_result`` blocks the ``tool`` messages right after
it; images become ``image_url`` parts; thinking blocks become the assistant's
``reasoning_content`` and ``thinking_blocks`` (signatures kept, so an Anthropic provider gets them
back as sent). ``thinking`` becomes a ``reasoning_effort``; ``tool_choice`` and
``disable_parallel_tool_use`` their chat forms. What a chat server cannot use (``cache_control``,
``metadata``, ``context_management``, ``top_k``...) is left out and named in ``dropped``; what
the client got wrong is a :class:`TranslationError` naming the field.
"""

from __future__ import annotations

from typing import Any

from proxyd.wires.anthropic.answers import assistant_message
from proxyd.wires.errors import TranslationError
from proxyd.wires.turn import Pivoted

Body = dict[str, Any]
_DROPPED_FIELDS = ("metadata", "context_management", "top_k", "container", "mcp_servers", "service_tier")
# Budget tokens -> effort, the inverse of request_from_pivot's table (low 1024 / medium 2048 / high 4096+).
_EFFORTS = ((4096, "high"), (2048, "medium"), (0, "low"))


def anthropic_to_chat(body: Body) -> Pivoted:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranslationError("messages", "must be a non-empty list of messages")
    dropped = [name for name in _DROPPED_FIELDS if body.get(name) is not None]
    out: list[Body] = []
    system = _system(body.get("system"))
    if system:
        out.append({"role": "system", "content": system})
    for i, message in enumerate(messages):
        out += _message(message, f"messages[{i}]")
    chat: Body = {"model": body.get("model"), "messages": out}
    if not isinstance(body.get("max_tokens"), int):
        raise TranslationError("max_tokens", "is required: a whole number of tokens")
    chat["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if isinstance(body.get("stop_sequences"), list):
        chat["stop"] = body["stop_sequences"]
    _tools(body, chat)
    effort = _effort(body.get("thinking"), body.get("output_config"))
    if effort:
        chat["reasoning_effort"] = effort
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return Pivoted(chat, dropped=tuple(dropped))


def _system(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return "\n\n".join(b["text"] for b in raw if isinstance(b, dict) and isinstance(b.get("text"), str))
    raise TranslationError("system", "must be a string or a list of text blocks")


def _message(message: object, path: str) -> list[Body]:
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise TranslationError(f"{path}.role", "must be user or assistant (a system prompt goes in 'system')")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": message["role"], "content": content}]
    if not isinstance(content, list):
        raise TranslationError(f"{path}.content", "must be a string or a list of content blocks")
    if message["role"] == "assistant":
        return [_assistant(content, path)]
    return _user(content, path)


def _assistant(blocks: list[Any], path: str) -> Body:
    message, unknown = assistant_message(blocks)
    for j, kind in unknown:
        raise TranslationError(f"{path}.content[{j}].type", f"{kind!r} is not an assistant block proxyd can send on")
    return message


def _user(blocks: list[Any], path: str) -> list[Body]:
    """Tool results first, as ``tool`` messages (chat wants them right after the calls), then the rest."""
    results: list[Body] = []
    parts: list[Body] = []
    for j, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"{path}.content[{j}]"
        if kind == "tool_result":
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": _result_text(block.get("content"), where),
                }
            )
        elif kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append(_image(block.get("source"), where))
        else:
            raise TranslationError(f"{where}.type", f"{kind!r} is not a user block proxyd can send on")
    out = list(results)
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        out.append({"role": "user", "content": "".join(p["text"] for p in parts) if only_text else parts})
    return out


def _result_text(content: object, path: str) -> str:
    if isinstance(content, str) or content is None:
        return content or ""
    if isinstance(content, list):  # blocks: chat tool messages take text; images are described
        pieces = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                pieces.append(str(block.get("text") or ""))
            elif isinstance(block, dict) and block.get("type") == "image":
                pieces.append("[image]")
        return "\n".join(pieces)
    raise TranslationError(f"{path}.content", "must be a string or a list of blocks")


def _image(source: object, path: str) -> Body:
    if isinstance(source, dict) and source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif isinstance(source, dict) and source.get("type") == "url":
        url = str(source.get("url") or "")
    else:
        raise TranslationError(f"{path}.source", "must be a base64 or url image source")
    return {"type": "image_url", "image_url": {"url": url}}


def pivot_tools(tools: object) -> list[Body]:
    """Anthropic tools as chat function tools."""
    if not isinstance(tools, list):
        return []
    return [
        {"type": "function", "function": {"name": t.get("name"), "description": t.get("description", ""),
                                          "parameters": t.get("input_schema") or {"type": "object"}}}
        for t in tools if isinstance(t, dict) and t.get("name")
    ]  # fmt: skip


def _tools(body: Body, chat: Body) -> None:
    tools = pivot_tools(body.get("tools"))
    if tools:
        chat["tools"] = tools
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or not chat.get("tools"):
        return
    kind = choice.get("type")
    if kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "tool":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in ("auto", "none"):
        chat["tool_choice"] = kind
    if choice.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _effort(thinking: object, output_config: object) -> str | None:
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    effort = output_config.get("effort") if isinstance(output_config, dict) else None
    if isinstance(effort, str):
        return {"max": "high", "xhigh": "high"}.get(effort, effort)
    budget = thinking.get("budget_tokens")
    if isinstance(budget, int):
        return next(name for floor, name in _EFFORTS if budget >= floor)
    return "medium"
