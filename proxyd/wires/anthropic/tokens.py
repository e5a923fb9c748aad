"""A token estimate for ``count_tokens`` when no provider can count (pure).

Claude Code asks before it sends a long context. An Anthropic provider answers exactly (the
request is passed to its own endpoint); for the others proxyd estimates from the request's text,
about four characters a token for English and code, which is what the estimate is meant for:
deciding when a context is near its window, not billing.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3  # the role and framing of each turn
_PER_IMAGE = 1600  # Anthropic's rough cost of an image of about a megapixel


def prompt_text(body: dict[str, Any]) -> str:
    """The request's text, as a tokenizer that takes one string gets it (a server's /tokenize)."""
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    elif isinstance(system, list):
        parts += [str(b.get("text") or "") for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
            continue
        for block in content or []:
            if isinstance(block, dict):
                parts.append(str(block.get("text") or block.get("thinking") or ""))
                parts.append(json.dumps(block["input"]) if block.get("input") else "")
                result = block.get("content")
                parts.append(result if isinstance(result, str) else json.dumps(result) if result else "")
    if body.get("tools"):
        parts.append(json.dumps(body["tools"]))
    return "\n".join(p for p in parts if p)


def estimate(body: dict[str, Any]) -> int:
    chars, extra = 0, 0
    system = body.get("system")
    chars += len(system) if isinstance(system, str) else len(json.dumps(system)) if system else 0
    for message in body.get("messages") or []:
        extra += _PER_MESSAGE
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
            continue
        for block in content or []:
            if isinstance(block, dict) and block.get("type") == "image":
                extra += _PER_IMAGE
            elif isinstance(block, dict):
                chars += len(str(block.get("text") or block.get("thinking") or "")) + len(
                    json.dumps(block.get("input") or "")
                )
                result = block.get("content")
                chars += len(result) if isinstance(result, str) else len(json.dumps(result)) if result else 0
    if body.get("tools"):
        chars += len(json.dumps(body["tools"]))
    return max(1, chars // CHARS_PER_TOKEN + extra)
