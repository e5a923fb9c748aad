"""Header rules for both directions of the proxy (pure).

Toward the provider: hop-by-hop headers (RFC 9110 §7.6.1: ``Connection`` and every header it
names, ``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``,
``Proxy-Authorization``) and the client's own credentials are dropped; the provider's key (as
``Authorization: Bearer``, as ``api-key`` for ``auth: api-key``, not at all for ``auth: none``)
and configured headers are set verbatim; everything else passes. Framing headers that proxyd
recomputes (``Host``, ``Content-Length``, ``Content-Encoding`` of a body it already decoded)
are dropped too.

Toward the client: hop-by-hop and framing headers are dropped, because proxyd relays the
decoded body with its own framing.
"""

from __future__ import annotations

from collections.abc import Iterable

from proxyd.config.settings import Provider
from proxyd.wires.registry import WIRES

Headers = list[tuple[str, str]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
    }
)
CLIENT_CREDENTIALS = frozenset({"authorization", "api-key", "x-api-key", "x-goog-api-key"})
_REQUEST_FRAMING = frozenset({"host", "content-length", "content-encoding", "accept-encoding", "expect"})
_RESPONSE_FRAMING = frozenset({"content-length", "content-encoding"})
_DROP_REQUEST = HOP_BY_HOP | CLIENT_CREDENTIALS | _REQUEST_FRAMING
_DROP_RESPONSE = HOP_BY_HOP | _RESPONSE_FRAMING


def upstream_request_headers(client: Iterable[tuple[str, str]], provider: Provider) -> Headers:
    """The headers to send the provider for a request that arrived with ``client`` headers."""
    items = list(client)
    configured = {name.lower() for name, _ in provider.headers}
    drop = _DROP_REQUEST | _connection_named(items) | configured
    out = [(k, v) for k, v in items if k.lower() not in drop]
    if provider.api_key and provider.auth == "bearer":
        out.append(("Authorization", f"Bearer {provider.api_key}"))
    elif provider.api_key and provider.auth == "api-key":  # Azure OpenAI's style
        out.append(("api-key", provider.api_key))
    elif provider.api_key and provider.auth == "x-api-key":  # Anthropic's
        out.append(("x-api-key", provider.api_key))
    elif provider.api_key and provider.auth == "x-goog-api-key":  # Google's
        out.append(("x-goog-api-key", provider.api_key))
    out.extend(provider.headers)
    out += wire_defaults(provider, out)
    return out


def wire_defaults(provider: Provider, present: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers the provider's wire needs that ``present`` lacks: the adapter's
    ``default_headers`` (Anthropic's ``anthropic-version``); only Anthropic's has any, so the
    rest pay one lookup."""
    wire = WIRES.get(provider.wire)
    if wire is None or not wire.default_headers:
        return []
    names = {k.lower() for k, _ in present}
    return [(n, v) for n, v in wire.default_headers if n.lower() not in names]


def downstream_response_headers(upstream: Iterable[tuple[str, str]]) -> Headers:
    """The provider's response headers that may be relayed to the client."""
    items = list(upstream)
    drop = _DROP_RESPONSE | _connection_named(items)
    return [(k, v) for k, v in items if k.lower() not in drop]


def _connection_named(items: list[tuple[str, str]]) -> frozenset[str]:
    names = [token.strip().lower() for k, v in items if k.lower() == "connection" for token in v.split(",")]
    return frozenset(n for n in names if n)
