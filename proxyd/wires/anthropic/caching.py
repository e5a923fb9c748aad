"""Cache breakpoints where they pay, for a chat or Responses client's request to an Anthropic
provider (pure).

Anthropic caches a prompt's prefix only up to a block marked ``cache_control``; OpenAI's API
caches by itself, so those clients mark nothing and every turn would pay the whole prompt. With
``prompt_cache: auto`` (the default of Anthropic providers) proxyd marks, in this order, the last
tool, the end of the system prompt, and the newest turn's last block (it writes the prefix the
next turn reads). Never more than the API's limit of four marks (it answers 400 beyond), and
never on a block the client already marked.
"""

from __future__ import annotations

from typing import Any

Body = dict[str, Any]
LIMIT = 4  # the Messages API refuses a request with more blocks marked
EPHEMERAL: Body = {"type": "ephemeral"}
_UNMARKABLE = ("thinking", "redacted_thinking")  # the API takes no cache_control on these


def marks(body: Body) -> int:
    """How many blocks of the request carry ``cache_control``."""
    system = body.get("system")
    count = sum(1 for b in system if _marked(b)) if isinstance(system, list) else 0
    count += sum(1 for t in body.get("tools") or [] if _marked(t))
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            count += sum(1 for b in content if _marked(b))
    return count


def place_breakpoints(body: Body) -> Body | None:
    """``body`` with breakpoints added where they pay, or ``None`` when none can be."""
    room = LIMIT - marks(body)
    if room <= 0:
        return None
    out = dict(body)
    for place in (_tools, _system, _newest_turn):
        if room > 0 and place(out):
            room -= 1
    return None if room == LIMIT - marks(body) else out


def _marked(block: object) -> bool:
    return isinstance(block, dict) and bool(block.get("cache_control"))


def _tools(out: Body) -> bool:
    tools = out.get("tools")
    if not isinstance(tools, list) or not tools or not isinstance(tools[-1], dict) or _marked(tools[-1]):
        return False
    out["tools"] = [*tools[:-1], {**tools[-1], "cache_control": EPHEMERAL}]
    return True


def _system(out: Body) -> bool:
    system = out.get("system")
    if isinstance(system, str) and system:
        out["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
        return True
    if isinstance(system, list) and system and isinstance(system[-1], dict) and not _marked(system[-1]):
        out["system"] = [*system[:-1], {**system[-1], "cache_control": EPHEMERAL}]
        return True
    return False


def _newest_turn(out: Body) -> bool:
    messages = out.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return False
    last = messages[-1]
    content = last.get("content")
    if isinstance(content, str) and content:
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return False
    spot = next((i for i in range(len(content) - 1, -1, -1)
                 if isinstance(content[i], dict) and content[i].get("type") not in _UNMARKABLE), None)  # fmt: skip
    if spot is None or _marked(content[spot]):
        return False
    content = [*content[:spot], {**content[spot], "cache_control": EPHEMERAL}, *content[spot + 1 :]]
    out["messages"] = [*messages[:-1], {**last, "content": content}]
    return True
