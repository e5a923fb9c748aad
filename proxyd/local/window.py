"""A local server's context, asked once it is ready: llama.cpp's ``/props``, else what its model
listing says (vLLM's ``max_model_len``); Ollama's ``/api/show`` is asked by the probes."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from proxyd.config.settings import Provider
from proxyd.errors import json_or_none
from proxyd.listing import models_in_listing, props_window

_MAX_BODY = 1024 * 1024

_TIMEOUT = aiohttp.ClientTimeout(total=3.0)


async def read_window(session: aiohttp.ClientSession, provider: Provider) -> int | None:
    parts = urlsplit(provider.base_url)
    props = await _get(session, f"{parts.scheme}://{parts.netloc}/props")
    window = props_window(props)
    if window is not None:
        return window
    listed = models_in_listing(await _get(session, provider.base_url.rstrip("/") + "/models")) or ()
    return next((m.context_window for m in listed if m.context_window), None)


async def _get(session: aiohttp.ClientSession, url: str) -> object:
    try:
        async with session.get(url, timeout=_TIMEOUT) as resp:
            return json_or_none(await resp.content.read(_MAX_BODY)) if resp.status == 200 else None
    except (aiohttp.ClientError, OSError, TimeoutError):
        return None
