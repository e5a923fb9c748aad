"""A pivot (Chat Completions) request as an Anthropic Messages request (pure).

As strict as Anthropic's API, which rejects what chat servers let pass: ``system`` and
``developer`` messages go to the top-level ``system``; consecutive turns of one role are merged
(only ``user`` and ``assistant`` alternate); tool calls become ``tool_use`` blocks and tool
results ``tool_result`` blocks in the user turn right after them; images become base64 or url
sources; ``max_tokens`` is always set (:data:`DEFAULT_MAX_TOKENS` when the client gave none; the
provider's compat step lowers it to the model's limit). A ``reasoning_effort`` becomes a thinking
budget (:data:`BUDGETS`, at least 1024 and below ``max_tokens``). Thinking blocks go back only
with the signature an Anthropic provider gave them; anything else is dropped, as Anthropic
checks signatures.
"""

from __future__ import annotations

import json
from typing import Any

from proxyd.wires.errors import TranslationError

Body = dict[str, Any]
DEFAULT_MAX_TOKENS = 8192  # when a chat or Responses client names no limit; Anthropic requires one
BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}  # LiteLLM's table
MIN_BUDGET = 1024


def chat_to_anthropic(chat: Body) -> Body:
    messages = chat.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranslationError("messages", "must be a non-empty list of messages")
    system: list[Body] = []  # text blocks, each with the breakpoint its part carried
    turns: list[Body] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TranslationError(f"messages[{i}]", "must be a message object")
        role = message.get("role")
        if role in ("system", "developer"):
            system += _system_blocks(message.get("content"))
        elif role in ("user", "assistant", "tool"):
            _add(turns, "assistant" if role == "assistant" else "user", _blocks(message, f"messages[{i}]"))
        else:
            raise TranslationError(f"messages[{i}].role", f"{role!r} is not a chat role")
    out: Body = {"model": chat.get("model"), "messages": turns, "max_tokens": _max_tokens(chat)}
    if any("cache_control" in b for b in system):
        out["system"] = system  # blocks: the breakpoints stay where the client put them
    elif system:
        out["system"] = "\n\n".join(b["text"] for b in system)
    for name in ("temperature", "top_p", "stream"):
        if chat.get(name) is not None:
            out[name] = chat[name]
    stop = chat.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    _tools(chat, out)
    _thinking(chat, out)
    return out


def _max_tokens(chat: Body) -> int:
    for name in ("max_tokens", "max_completion_tokens"):
        if isinstance(chat.get(name), int) and chat[name] > 0:
            return int(chat[name])
    return DEFAULT_MAX_TOKENS


def _add(turns: list[Body], role: str, blocks: list[Body]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        merged = turns[-1]["content"] + blocks
        if role == "user":  # tool results answer the turn before: they lead the user turn
            merged = [b for b in merged if b["type"] == "tool_result"] + [
                b for b in merged if b["type"] != "tool_result"
            ]
        turns[-1]["content"] = merged
        return
    turns.append({"role": role, "content": blocks})


def _blocks(message: Body, path: str) -> list[Body]:
    role = message["role"]
    if role == "tool":
        result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                  "content": _text(message.get("content"))}  # fmt: skip
        return [_marked(result, _last_part(message.get("content")))]
    blocks: list[Body] = []
    if role == "assistant":
        blocks += [dict(b) for b in message.get("thinking_blocks") or [] if _signed(b)]
    content = message.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for j, part in enumerate(content):
            block = _part(part, f"{path}.content[{j}]")
            if block is not None:
                blocks.append(block)
    for k, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") or {} if isinstance(call, dict) else {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": fn.get("name"),
                "input": _input(fn.get("arguments"), f"{path}.tool_calls[{k}]"),
            }
        )
    return blocks


def _signed(block: object) -> bool:
    if not isinstance(block, dict):
        return False
    if block.get("type") == "redacted_thinking":
        return bool(block.get("data"))
    return block.get("type") == "thinking" and bool(block.get("signature"))


def _part(raw: object, path: str) -> Body | None:
    part: Body = raw if isinstance(raw, dict) else {}
    kind = part.get("type")
    if kind in ("text", "input_text", "output_text"):
        text = str(part.get("text") or "")
        return _marked({"type": "text", "text": text}, part) if text else None  # Anthropic refuses empty text
    if kind == "image_url":
        url = str((part.get("image_url") or {}).get("url") or "")
        if url.startswith("data:") and ";base64," in url:
            media, data = url[5:].split(";base64,", 1)
            return _marked({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}, part)
        return _marked({"type": "image", "source": {"type": "url", "url": url}}, part)
    document = _document(part.get("file")) if kind == "file" else None
    if document is not None:
        return document
    # Audio, or a file the provider cannot be handed (an id of another service's store): the
    # client's meaning would be lost, so this one says so instead of dropping it.
    raise TranslationError(f"{path}.type", f"{kind!r} parts cannot be sent to an Anthropic provider")


def _document(file: object) -> Body | None:
    """A chat ``file`` part holding a PDF or text as data: Anthropic's document block."""
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str) or not data.startswith("data:") or ";base64," not in data:
        return None
    media, payload = data[5:].split(";base64,", 1)
    if media != "application/pdf":
        return None
    return {"type": "document", "source": {"type": "base64", "media_type": media, "data": payload}}


def _input(arguments: object, path: str) -> Body:
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = json.loads(str(arguments))
    except ValueError:
        raise TranslationError(
            f"{path}.function.arguments", "must be a JSON object for an Anthropic provider"
        ) from None
    return value if isinstance(value, dict) else {"value": value}


def _marked(block: Body, part: object) -> Body:
    """``block`` with the cache breakpoint its part carried (OpenRouter's form is Anthropic's)."""
    mark = part.get("cache_control") if isinstance(part, dict) else None
    if isinstance(mark, dict):
        block["cache_control"] = mark
    return block


def _last_part(content: object) -> object:
    return content[-1] if isinstance(content, list) and content else None


def _system_blocks(content: object) -> list[Body]:
    if isinstance(content, list):
        return [_marked({"type": "text", "text": str(p.get("text") or "")}, p) for p in content
                if isinstance(p, dict) and p.get("text")]  # fmt: skip
    text = _text(content)
    return [{"type": "text", "text": text}] if text else []


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and "text" in p)
    return ""


def _tools(chat: Body, out: Body) -> None:
    tools = chat.get("tools")
    if not isinstance(tools, list) or not tools:
        return
    out["tools"] = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and fn.get("name"):
            tool = {"name": fn["name"], "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
            if fn.get("description"):
                tool["description"] = fn["description"]
            out["tools"].append(tool)
    choice = chat.get("tool_choice")
    mapped: Body | None = None
    if choice == "required":
        mapped = {"type": "any"}
    elif choice in ("auto", "none"):
        mapped = {"type": choice}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    if chat.get("parallel_tool_calls") is False:
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    if mapped is not None:
        out["tool_choice"] = mapped


def _thinking(chat: Body, out: Body) -> None:
    effort = chat.get("reasoning_effort")
    if not isinstance(effort, str) or effort not in BUDGETS:
        return
    budget = BUDGETS[effort]
    if out["max_tokens"] <= budget:  # the budget must stay below max_tokens
        budget = out["max_tokens"] - 1
    if budget < MIN_BUDGET:
        return  # too small an answer for thinking: it is left off
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
