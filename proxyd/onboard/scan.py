"""Asking this machine's usual ports for a model server (``proxyd init``).

Every port at once, each with a short deadline, so the whole look takes well under a second
even when nothing listens. A server whose first listing is empty (some load their catalog after
they start) is asked once more after a short wait.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from proxyd.listing import models_in_listing
from proxyd.onboard.finds import LOCAL_SERVERS, Found

ASK_TIMEOUT_S = 0.6
RETRY_AFTER_S = 0.3


async def local_servers(host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> list[Found]:
    """The local servers that answered ``GET /v1/models``, in the order of :data:`LOCAL_SERVERS`.
    ``ports`` overrides a server's port (tests use free ones)."""
    async with aiohttp.ClientSession() as session:
        asks = [_ask(session, name, host, (ports or {}).get(name, port), wire) for name, port, wire in LOCAL_SERVERS]
        found = await asyncio.gather(*asks)
    return [f for f in found if f is not None]


async def _ask(session: aiohttp.ClientSession, name: str, host: str, port: int, wire: str) -> Found | None:
    base = f"http://{host}:{port}/v1"
    models = await _models(session, base)
    if models is None:
        return None
    if not models:  # listed nothing yet: once more, a moment later
        await asyncio.sleep(RETRY_AFTER_S)
        models = await _models(session, base) or []
    return Found(name, base, wire=wire, models=models, local=True)


async def _models(session: aiohttp.ClientSession, base: str) -> list[str] | None:
    """The ids ``GET {base}/models`` lists; ``None`` when nothing answered as a model server."""
    try:
        async with asyncio.timeout(ASK_TIMEOUT_S), session.get(f"{base}/models", allow_redirects=False) as resp:
            if resp.status != 200:
                return None
            listing = models_in_listing(json.loads(await resp.content.read(4 * 1024 * 1024)))
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None
    return None if listing is None else [m.id for m in listing]
