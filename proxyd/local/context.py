"""A local model's context on the way in: what it is, and whether a prompt that may be past it
is (its server's own tokenizer counts); the pure rules are :mod:`proxyd.context_fit`'s."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from proxyd.config.services import is_local_url
from proxyd.context_fit import Overflow, estimate_tokens, prompt_text, too_long
from proxyd.counting import server_count
from proxyd.local.supervisor import LOCAL
from proxyd.routing import Route


def window_of(request: web.Request, route: Route) -> int | None:
    """The context of a model on this machine or the private network, when known: configured,
    listed, or what its server (one proxyd runs) reported; None for a cloud API's."""
    entry, provider = route.entry, route.provider
    window = entry.context_window if entry is not None else None
    if window is None and (provider.local is not None or (entry is not None and entry.local is not None)):
        local = request.app.get(LOCAL)  # a server proxyd runs: what it reported
        server = local.server_for(provider.name, route.model) if local is not None else None
        window = server.window if server is not None else None
    return window if window is not None and is_local_url(provider.base_url) else None


async def fits_context(
    request: web.Request, route: Route, session: aiohttp.ClientSession, parsed: dict[str, Any], size: int
) -> None:
    """A prompt that may be past the context (by its size) is counted by the server's own
    tokenizer; past the context even without the chat template, it is refused in plain words
    rather than sent to fail (llama-cpp-python cuts such a stream without a word)."""
    window = window_of(request, route)
    if window is None or estimate_tokens(size) <= window:
        return
    counted = await server_count(session, route.provider, route.model, prompt_text(parsed))
    if counted is not None and counted > window:
        raise too_long(Overflow(counted, window), window, route.model or "", route.provider.name)
