"""Fitting a request to a small context, and saying so when it cannot fit (pure).

Agents ask for more output than a local model's context holds (Claude Code sends ``max_tokens:
32000`` to an 8k model), and strict servers (vLLM) refuse ``prompt + max_tokens`` past the
context where others cut the answer short. With the model's context known, :func:`clamp` lowers
the output limit to what fits beside the prompt, the prompt's tokens estimated from its size
(:func:`estimate_tokens`, on the high side, so the sum stays inside). The prompt itself is never
refused on an estimate: the server counts it, and its "too long" answer (:func:`overflow`, in each
server's words) becomes :func:`too_long`, one clear error in the client's shape that names the
context (Claude Code compacts on Anthropic's ``prompt is too long``).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from proxyd.errors import ProxyError, json_or_none

OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_BYTES_PER_TOKEN = 3  # English is ~4 bytes a token, code and JSON ~3: fewer bytes a token overestimates
_TEMPLATE_TOKENS = 64  # the chat template's own tokens around the messages
_MIN_OUTPUT = 16  # below this, the answer would be useless: leave the limit to the server

# How servers name the prompt's tokens and the context in their words (the first match counts).
_PROMPT_RES = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"\((\d+) in the messages",  # vLLM, llama-cpp-python
    r"your request has (\d+) input tokens",  # vLLM (newer)
    r"messages resulted in (\d+) tokens",  # OpenAI
    r"prompt is too long: (\d+) tokens",  # Anthropic
    r"keep the first (\d+) tokens",  # LM Studio
))  # fmt: skip
_WINDOW_RES = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"maximum context length is (\d+)",  # OpenAI, vLLM, llama-cpp-python
    r"tokens > (\d+) maximum",  # Anthropic
    r"context length of only (\d+) tokens",  # LM Studio
))  # fmt: skip
_OVERFLOW_WORDS = ("maximum context length", "exceeds the available context", "context length", "context window",
                   "prompt is too long", "exceed_context_size")  # fmt: skip


# What a chat template does not render: framing, ids, signatures, and media (a base64 image
# counted as text would read as a prompt thousands of times too long).
_UNRENDERED = frozenset({
    "role", "type", "id", "tool_call_id", "call_id", "signature", "data", "url", "image_url", "source",
    "cache_control", "media_type", "file_id", "detail", "encrypted_content",
})  # fmt: skip
_PROMPT_KEYS = ("system", "instructions", "messages", "input", "tools", "functions")


def prompt_text(body: dict[str, Any]) -> str:
    """The text of a request on any wire as a model's template renders it, minus the template:
    what a server's tokenizer is asked to count to know for sure that a prompt cannot fit."""
    parts: list[str] = []
    for key in _PROMPT_KEYS:
        _strings(body.get(key), parts)
    return "\n".join(parts)


def _strings(value: object, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _UNRENDERED:
                _strings(item, out)


def estimate_tokens(body_bytes: int) -> int:
    return body_bytes // _BYTES_PER_TOKEN + _TEMPLATE_TOKENS


def clamp(body: dict[str, Any], window: int, body_bytes: int) -> tuple[dict[str, Any] | None, str | None]:
    """The body with its output limit lowered to fit ``window`` beside the prompt (None: it fits,
    or the prompt alone may not: the server decides), and the note for the log."""
    for field in OUTPUT_FIELDS:
        asked = body.get(field)
        if type(asked) is int:
            break
    else:
        return None, None
    prompt = estimate_tokens(body_bytes)
    room = window - prompt
    if asked <= room or room < _MIN_OUTPUT:
        return None, None
    note = f"{field} {asked} lowered to {room}: the model's context is {window} tokens, the prompt about {prompt}"
    return {**body, field: room}, note


class Overflow(NamedTuple):
    prompt: int | None  # the prompt's tokens, as the server counted them
    window: int | None  # the context, as the server says


def overflow(status: int, body: bytes) -> Overflow | None:
    """A server's answer that a request does not fit its context, with the counts it gives:
    llama.cpp's ``exceed_context_size_error`` (``n_prompt_tokens``, ``n_ctx``; a 500 in older
    builds), vLLM's and llama-cpp-python's ``context_length_exceeded``, OpenAI's, Anthropic's and
    LM Studio's words."""
    if status not in (400, 413, 422, 500):
        return None
    parsed = json_or_none(body)
    inner = parsed.get("error") if isinstance(parsed, dict) else None
    error: dict[str, Any] = inner if isinstance(inner, dict) else parsed if isinstance(parsed, dict) else {}
    said = error.get("message") if isinstance(error.get("message"), str) else inner
    message = said if isinstance(said, str) else body[:2000].decode("utf-8", "replace")
    kind = f"{error.get('code', '')} {error.get('type', '')}".lower()
    named = "context_length_exceeded" in kind or "exceed_context" in kind
    if not named and not any(word in message.lower() for word in _OVERFLOW_WORDS):
        return None
    prompt = _int(error.get("n_prompt_tokens")) or _first(_PROMPT_RES, message)
    return Overflow(prompt, _int(error.get("n_ctx")) or _first(_WINDOW_RES, message))


def too_long(over: Overflow, known: int | None, model: str, provider: str) -> ProxyError:
    """The client's error for a request its model's context cannot hold: the prompt itself (in
    the words Claude Code compacts on), or only the output asked for beside it."""
    window = over.window or known
    where = f"Model {model!r} of provider {provider!r}"
    if over.prompt is not None and window is not None and over.prompt < window:
        return ProxyError(
            400,
            f"the output asked for does not fit: the prompt takes {over.prompt} of the {window} tokens of {where}'s "
            "context. Ask for fewer output tokens, or set the model's context_window in proxyd's config so that "
            "proxyd lowers max_tokens to fit",
            code="context_length_exceeded",
            param="max_tokens",
        )
    count = f"{over.prompt} tokens" if over.prompt else "more tokens than fit"
    limit = f"{window} maximum" if window else "the model's maximum"
    context = f"a {window}-token context" if window else "a smaller context than this prompt needs"
    return ProxyError(
        400,
        f"prompt is too long: {count} > {limit}. {where} has {context}: "
        "shorten the conversation (Claude Code: /compact), or pick a model with a larger context",
        code="context_length_exceeded",
        param="messages",
    )


def _int(value: object) -> int | None:
    return value if type(value) is int and value > 0 else None


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None
