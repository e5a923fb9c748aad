"""The one pooled HTTP client toward providers, and the boundary where its exceptions become
client-facing errors (as httpx's transports do).

Messages are composed from config facts (provider name, base_url, timeouts) and the OS error
text, never from ``str(exc)`` or ``repr(exc)``: aiohttp puts request details, and so the
injected Authorization header, into some of them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Callable

import aiohttp
from yarl import URL

from proxyd.config.settings import Keepalive, Provider, Tls
from proxyd.errors import ProxyError, upstream_error

# Provider error bodies are read whole to reshape them; a sane limit keeps a broken upstream
# from filling memory.
MAX_ERROR_BODY = 1024 * 1024


def apply_keepalive(sock: socket.socket, ka: Keepalive) -> None:
    """Turn on TCP keepalive probes so a dead peer is noticed within idle + interval * count s."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", ka.idle_s),
        ("TCP_KEEPINTVL", ka.interval_s),
        ("TCP_KEEPCNT", ka.count),
    ):
        opt = getattr(socket, name, None)
        if opt is not None:  # absent on some platforms; SO_KEEPALIVE alone still helps
            sock.setsockopt(socket.IPPROTO_TCP, opt, value)


def _socket_factory(ka: Keepalive) -> Callable[[tuple[int, int, int, str, tuple[str, int]]], socket.socket]:
    def make(addr_info: tuple[int, int, int, str, tuple[str, int]]) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        sock = socket.socket(family=family, type=type_, proto=proto)
        apply_keepalive(sock, ka)
        return sock

    return make


def ssl_for(tls: Tls) -> ssl.SSLContext | bool:
    """``tls.ca_file`` adds to the system's CAs (a self-signed internal gateway); ``verify: false``
    turns checking off (config loading warns loudly about it)."""
    if not tls.verify:
        return False
    if tls.ca_pem is None:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=tls.ca_pem)
    return context


def create_session(ka: Keepalive, tls: Tls) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=0,  # a local proxy must not queue a user's parallel agents behind a pool cap
        socket_factory=_socket_factory(ka),
        keepalive_timeout=30,
        ssl=ssl_for(tls),
    )
    return aiohttp.ClientSession(
        connector=connector,
        # Cookies from one provider answer must never ride along on another client's request.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Proxy variables and .netrc are not read: only configured upstreams are contacted.
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=True,
    )


def upstream_url(provider: Provider, rest: str, query: str) -> URL:
    """``base_url`` + the raw path after ``/v1``, kept encoded exactly as the client sent it."""
    text = provider.base_url + rest + (f"?{query}" if query else "")
    return URL(text, encoded=True)


async def send(
    session: aiohttp.ClientSession,
    provider: Provider,
    method: str,
    url: URL,
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> aiohttp.ClientResponse:
    """Send one request and wait for the response head, within the provider's timeouts."""
    t = provider.timeouts
    timeout = aiohttp.ClientTimeout(total=None, connect=t.connect_s, sock_connect=t.connect_s)
    try:
        async with asyncio.timeout(t.first_byte_s):
            return await session.request(
                method, url, headers=headers, data=body, allow_redirects=False, timeout=timeout
            )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise map_exception(exc, provider) from None


def map_exception(exc: BaseException, provider: Provider) -> ProxyError:
    """Turn a client-side exception into the error the proxy's client sees."""
    who = f"provider {provider.name!r} ({provider.base_url})"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        detail = getattr(exc.certificate_error, "verify_message", "") or "certificate rejected"
        return upstream_error(502, f"TLS certificate of {who} was not accepted: {detail}", "upstream_tls_error")
    if isinstance(exc, aiohttp.ClientSSLError):
        return upstream_error(502, f"TLS handshake with {who} failed; is it really https?", "upstream_tls_error")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return upstream_error(502, f"cannot resolve the host of {who}", "upstream_unreachable")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return upstream_error(
            504, f"could not connect to {who} within {provider.timeouts.connect_s:g} s", "upstream_timeout"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = _os_reason(exc.os_error)
        return upstream_error(502, f"cannot connect to {who}: {reason}. Is the server running?", "upstream_unreachable")
    if isinstance(exc, TimeoutError):
        return upstream_error(
            504,
            f"{who} did not answer within {provider.timeouts.first_byte_s:g} s "
            "(raise timeouts.first_byte_s for slow models)",
            "upstream_timeout",
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return upstream_error(502, f"{who} closed the connection without answering", "upstream_disconnected")
    if isinstance(exc, aiohttp.ClientResponseError):
        return upstream_error(502, f"{who} sent a malformed HTTP response", "upstream_protocol_error")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return upstream_error(502, f"{who} sent a broken response body", "upstream_protocol_error")
    if isinstance(exc, OSError):
        reason = _os_reason(exc)
        return upstream_error(502, f"the connection to {who} failed: {reason}", "upstream_unreachable")
    return upstream_error(502, f"the request to {who} failed ({type(exc).__name__})", "upstream_error")


def _os_reason(exc: OSError) -> str:
    # asyncio words a refusal as "Connect call failed (...)"; the errno's own text is clearer.
    if exc.errno:
        return os.strerror(exc.errno)
    return exc.strerror or type(exc).__name__
