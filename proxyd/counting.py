"""Answering a token-counting request (Anthropic's ``count_tokens``, Gemini's ``countTokens``) for
providers on other wires.

A provider on the counting wire's own API counts exactly (the request is passed to it). A
llama.cpp or vLLM server counts with its ``/tokenize`` endpoint (beside ``/v1``), and
llama-cpp-python's server with ``/extras/tokenize/count``, which proxyd asks briefly; anything
else gets an estimate. ``X-Proxyd-Token-Count`` says which.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from proxyd.config.settings import Provider
from proxyd.headers import Headers, upstream_request_headers
from proxyd.observe import Observation
from proxyd.wires.registry import Counter

TOKENIZE_WAIT_S = 2.0


async def count(
    session: aiohttp.ClientSession, provider: Provider, model: str | None, counter: Counter, body: dict[str, Any],
    obs: Observation,
) -> web.Response:  # fmt: skip
    counted = await server_count(session, provider, model, counter.prompt_text(body))
    obs.status = 200
    if counted is not None:
        return web.json_response(counter.count_answer(counted), headers={"X-Proxyd-Token-Count": "tokenize"})
    answer = counter.count_answer(counter.count_tokens(body))
    return web.json_response(answer, headers={"X-Proxyd-Token-Count": "estimate"})


async def server_count(session: aiohttp.ClientSession, provider: Provider, model: str | None, text: str) -> int | None:
    """The server's own count of ``text``, or None: llama.cpp takes ``content`` and vLLM ``prompt``
    at ``/tokenize``; llama-cpp-python takes ``input`` at ``/extras/tokenize/count``."""
    root = provider.base_url.removesuffix("/v1")
    headers = upstream_request_headers((), provider)
    try:
        async with asyncio.timeout(TOKENIZE_WAIT_S):
            answer = await _post(
                session, f"{root}/tokenize", {"model": model, "prompt": text, "content": text}, headers
            )
            if answer is None:
                answer = await _post(session, f"{root}/extras/tokenize/count", {"input": text}, headers)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None
    if isinstance(answer, dict) and isinstance(answer.get("count"), int):
        return int(answer["count"])
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    return len(tokens) if isinstance(tokens, list) else None


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: Headers) -> Any:
    async with session.post(url, json=body, headers=headers, allow_redirects=False) as resp:
        if resp.status != 200 or resp.content_type != "application/json":
            return None
        return json.loads(await resp.content.read(4 * 1024 * 1024))
