"""Which conversation a request belongs to, for keeping its turns on one group target (pure).

A client that names its conversation is taken at its word: Claude Code's ``metadata.user_id``
(which ends in its session id), ``prompt_cache_key`` (Codex sets it to its conversation id; any
OpenAI client may), and Codex's ``session_id`` header. Other clients' turns are recognised by
what every turn of one conversation repeats: its system prompt and its first user message,
hashed (the text never leaves this function).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from proxyd import jsoncodec

_MAX = 200  # a client-given key is bounded before it is used as a map key


def session_key(body: Mapping[str, Any] | None, headers: Mapping[str, str]) -> str | None:
    if body is None:
        return None
    metadata = body.get("metadata")
    named = metadata.get("user_id") if isinstance(metadata, dict) else None
    for candidate in (named, body.get("prompt_cache_key"), headers.get("session_id"), body.get("user")):
        if isinstance(candidate, str) and candidate:
            return "id:" + candidate[:_MAX]
    return _by_opening(body)


def _by_opening(body: Mapping[str, Any]) -> str | None:
    """A hash of the system prompt and the first user message, in whichever wire's form."""
    system = body.get("system", body.get("instructions"))
    turns = body.get("messages", body.get("input"))
    first = None
    if isinstance(turns, list):
        for turn in turns:
            if isinstance(turn, dict) and turn.get("role") in ("system", "developer") and system is None:
                system = turn.get("content")
            elif isinstance(turn, dict) and turn.get("role") == "user":
                first = turn.get("content")
                break
    elif isinstance(turns, str):
        first = turns
    if first is None:
        return None
    digest = hashlib.sha256(jsoncodec.dumps([system, first])).hexdigest()[:32]
    return "hash:" + digest
