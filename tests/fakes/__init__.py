"""Pieces the fake upstreams of many tests share: a Chat Completions stream chunk as an SSE event."""

from __future__ import annotations

import json
from typing import Any


def chat_chunk(
    delta: dict[str, Any] | None, finish: str | None = None, *, chunk_id: str = "c1", model: str = "m",
    created: int = 1, **extra: Any,
) -> bytes:  # fmt: skip
    """``data: {chunk}`` for a chat stream: one choice with ``delta`` (none when ``delta`` is None,
    as a usage-only chunk has), and ``extra`` fields (``usage``...) after the choices."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices, **extra}  # fmt: skip
    return f"data: {json.dumps(body)}\n\n".encode()
