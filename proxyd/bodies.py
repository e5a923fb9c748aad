"""Reading a provider's answer body: whole, capped, each read within ``timeouts.idle_s``.

The relay copies bodies as they come; everything that must look at a body first (an error to
reshape, a whole answer to translate or replay, a ``wire: auto`` answer to judge) reads it here,
and :func:`release` gives the connection back to the pool only when it was read to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

from proxyd import jsoncodec
from proxyd.config.settings import Provider
from proxyd.errors import ProxyError, upstream_error
from proxyd.redact import blank_provider_secrets
from proxyd.upstream import MAX_ERROR_BODY, map_exception

MAX_REPLAY_BODY = 64 * 1024 * 1024


def release(resp: aiohttp.ClientResponse) -> None:
    """A fully read body returns its connection to the pool; anything else (client gone,
    upstream broken, timeout) closes it, which also stops a provider still generating."""
    if resp.content.at_eof() and not resp.closed:
        resp.release()
    else:
        resp.close()


async def read_error_body(resp: aiohttp.ClientResponse, provider: Provider) -> bytes:
    """A provider's error body, capped, with the provider's own secrets blanked if echoed."""
    return blank_provider_secrets(await read_upto(resp, provider, MAX_ERROR_BODY), provider)


async def read_json(resp: aiohttp.ClientResponse, provider: Provider, key: str, what: str) -> dict[str, Any]:
    """A whole JSON object holding ``key``, or a 502 saying the provider sent something else."""
    return parse_answer(await read_upto(resp, provider, MAX_REPLAY_BODY), provider, key, what)


async def read_whole(resp: aiohttp.ClientResponse, provider: Provider) -> bytes:
    """The whole body (up to :data:`MAX_REPLAY_BODY`), or a 502: a cut one must never be relayed."""
    body = await read_upto(resp, provider, MAX_REPLAY_BODY)
    if not resp.content.at_eof():
        raise upstream_error(
            502,
            f"provider {provider.name!r} sent an answer larger than {MAX_REPLAY_BODY // 1024 // 1024} MiB",
            "upstream_too_large",
        )
    return body


def parse_answer(body: bytes, provider: Provider, key: str, what: str) -> dict[str, Any]:
    try:
        value = jsoncodec.loads(body)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not isinstance(value.get(key), list):
        raise upstream_error(502, f"provider {provider.name!r} did not answer with {what}", "upstream_protocol_error")
    return value


async def read_upto(resp: aiohttp.ClientResponse, provider: Provider, limit: int) -> bytes:
    """The body up to ``limit`` bytes, read to its end (``content.read(n)`` returns after the
    first segment), each read within ``timeouts.idle_s``."""
    try:
        if resp.content.is_eof():  # all of it is here already: no reads to time
            body = await resp.content.read()
        else:
            body = await _read_timed(resp.content, provider.timeouts.idle_s, limit)
    except TimeoutError:
        raise idle_error(provider) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise map_exception(exc, provider) from None
    return body[:limit] if len(body) > limit else body


async def _read_timed(content: aiohttp.StreamReader, idle: float, limit: int) -> bytes:
    loop = asyncio.get_running_loop()
    parts: list[bytes] = []
    size = 0
    async with asyncio.timeout(idle) as deadline:
        while size < limit:
            chunk = await content.readany()
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
            deadline.reschedule(loop.time() + idle)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_rest(resp: aiohttp.ClientResponse, wait_s: float = 1.0) -> None:
    """Read what a finished stream still sends (usually just the end of its chunked body), so
    :func:`release` can keep the connection; a provider that goes on gets its connection closed."""
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with asyncio.timeout(wait_s):
            while not resp.content.at_eof() and await resp.content.readany():
                pass


def idle_error(provider: Provider) -> ProxyError:
    idle = provider.timeouts.idle_s
    return upstream_error(
        504, f"provider {provider.name!r} sent nothing for {idle:g} s (timeouts.idle_s)", "upstream_timeout"
    )
