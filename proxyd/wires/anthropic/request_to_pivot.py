"""An Anthropic Messages request (Claude Code, the anthropic SDK) in the pivot's form (pure).

``system`` (a string or text blocks) becomes the first system message; ``tool_use`` blocks
become the assistant's ``tool_calls``, ``tool_result`` blocks the ``tool`` messages right after
it; images become ``image_url`` parts; thinking blocks become the assistant's
``reasoning_content`` and ``thinking_blocks`` (signatures kept, so an Anthropic provider gets them
back as sent). ``thinking`` becomes a ``reasoning_effort``; ``tool_choice`` and
``disable_parallel_tool_use`` their chat forms. A ``system`` message inside ``messages`` (Claude
Code sends its environment block so, and the API takes it) stays a system message at its place.

Cache breakpoints (``cache_control``) stay on what they mark: the system prompt becomes text
parts, a user's blocks and a tool result keep theirs on their parts (OpenRouter and LiteLLM
take them there; :func:`proxyd.fitting.drop_cache_control` takes them off for providers that
do not).

A tolerant reader: what a chat server cannot use (``metadata``,
``context_management``, ``top_k``..., and content blocks with no chat form such as
``document`` without text, ``server_tool_use``, ``tool_reference``, ``container_upload``) is left
out and named in ``dropped``; a ``document`` or ``search_result`` with text becomes that text.
Only what the Messages API itself refuses (no ``messages``, no ``max_tokens``, a role it does not
know, content that is neither a string nor a list) is a :class:`TranslationError` naming the field.
"""

from __future__ import annotations

import hashlib
from typing import Any

from proxyd.wires.anthropic.answers import assistant_message
from proxyd.wires.errors import TranslationError
from proxyd.wires.turn import Pivoted

Body = dict[str, Any]
_DROPPED_FIELDS = ("metadata", "context_management", "top_k", "container", "mcp_servers", "service_tier")
_ROLES = ("user", "assistant", "system")
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
        out += _message(message, f"messages[{i}]", dropped)
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
    key = _cache_key(body.get("metadata"))
    if key is not None:
        chat["prompt_cache_key"] = key
    return Pivoted(chat, dropped=tuple(dropped))


def _cache_key(metadata: object) -> str | None:
    """Claude Code's ``metadata.user_id`` names its session: as OpenAI's ``prompt_cache_key``, a
    session's turns land on one cache (hashed: short, and nothing of the account goes on)."""
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user, str) or not user:
        return None
    return "proxyd-" + hashlib.sha256(user.encode()).hexdigest()[:32]


def _system(raw: object) -> str | list[Body]:
    """The system prompt: text, or text parts when a block carries a cache breakpoint."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        blocks = [b for b in raw if isinstance(b, dict) and isinstance(b.get("text"), str)]
        if any(b.get("cache_control") for b in blocks):
            return [_marked({"type": "text", "text": b["text"]}, b) for b in blocks]
        return "\n\n".join(b["text"] for b in blocks)
    raise TranslationError("system", "must be a string or a list of text blocks")


def _marked(part: Body, block: object) -> Body:
    """``part`` with the breakpoint its block carried, if any."""
    mark = block.get("cache_control") if isinstance(block, dict) else None
    if isinstance(mark, dict):
        part["cache_control"] = mark
    return part


def _message(message: object, path: str, dropped: list[str]) -> list[Body]:
    role = message.get("role") if isinstance(message, dict) else None
    if not isinstance(message, dict) or role not in _ROLES:
        raise TranslationError(f"{path}.role", f"{role!r} is not a role of the Messages API (user, assistant, system)")
    content = message.get("content")
    if not isinstance(content, str | list):
        raise TranslationError(f"{path}.content", "must be a string or a list of content blocks")
    if role == "system":
        text = content if isinstance(content, str) else _block_texts(content, path, dropped)
        return [{"role": "system", "content": text}]
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "assistant":
        return [_assistant(content, path, dropped)]
    return _user(content, path, dropped)


def _block_texts(blocks: list[Any], path: str, dropped: list[str]) -> str:
    texts = []
    for j, block in enumerate(blocks):
        text = _text_of(block)
        if text is None:
            dropped.append(f"{path}.content[{j}] ({_kind(block)})")
        else:
            texts.append(text)
    return "\n\n".join(texts)


def _assistant(blocks: list[Any], path: str, dropped: list[str]) -> Body:
    message, unknown = assistant_message(blocks)
    dropped += [f"{path}.content[{j}] ({kind})" for j, kind in unknown]  # server tool use and results
    return message


def _user(blocks: list[Any], path: str, dropped: list[str]) -> list[Body]:
    """Tool results first, as ``tool`` messages (chat wants them right after the calls), then the rest."""
    results: list[Body] = []
    parts: list[Body] = []
    for j, block in enumerate(blocks):
        kind = _kind(block)
        where = f"{path}.content[{j}]"
        if kind == "tool_result":
            said = _result_text(block.get("content"), where, dropped)
            marked = block.get("cache_control")  # Claude Code marks its newest block, often a tool result
            content: str | list[Body] = [_marked({"type": "text", "text": said}, block)] if marked else said
            results.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": content})
        elif kind == "image" and (image := _image(block.get("source"))) is not None:
            parts.append(_marked(image, block))
        elif (text := _text_of(block)) is not None:
            parts.append(_marked({"type": "text", "text": text}, block))
        else:
            dropped.append(f"{where} ({kind})")
    out = list(results)
    if parts:
        plain = all(p["type"] == "text" and "cache_control" not in p for p in parts)
        out.append({"role": "user", "content": "".join(p["text"] for p in parts) if plain else parts})
    return out


def _result_text(content: object, path: str, dropped: list[str]) -> str:
    if isinstance(content, str) or content is None:
        return content or ""
    if isinstance(content, list):  # blocks: chat tool messages take text; images are described
        pieces = []
        for j, block in enumerate(content):
            text = _text_of(block)
            if text is not None:
                pieces.append(text)
            elif _kind(block) == "image":
                pieces.append("[image]")
            else:
                dropped.append(f"{path}.content[{j}] ({_kind(block)})")
        return "\n".join(pieces)
    raise TranslationError(f"{path}.content", "must be a string or a list of blocks")


def _kind(block: object) -> str:
    return str(block.get("type")) if isinstance(block, dict) else type(block).__name__


def _text_of(block: object) -> str | None:
    """The text a block carries, for a wire that takes text: a text block's, a document's with a
    text source, a search result's (its title and text blocks); None for a block without text."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text") or "")
    if kind == "document":
        source = block.get("source")
        source = source if isinstance(source, dict) else {}
        data = source.get("data") if source.get("type") == "text" else None
        title = block.get("title")
        return None if not isinstance(data, str) else (f"{title}\n\n{data}" if isinstance(title, str) else data)
    if kind == "search_result":
        texts = [str(b.get("text")) for b in block.get("content") or [] if isinstance(b, dict) and b.get("text")]
        head = " ".join(str(block[k]) for k in ("title", "source") if isinstance(block.get(k), str))
        return "\n\n".join([head, *texts]) if texts else None
    return None


def _image(source: object) -> Body | None:
    """An image block's source as an ``image_url`` part; None for one chat has no form for (a
    Files API ``file`` source)."""
    if isinstance(source, dict) and source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif isinstance(source, dict) and source.get("type") == "url":
        url = str(source.get("url") or "")
    else:
        return None
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
