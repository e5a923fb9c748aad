"""Local-access protection: which requests proxyd serves at all (pure).

proxyd holds the user's API keys and listens on their machine, so every web page they open can
make their browser send it requests: a cross-origin ``fetch``, a form POST with a ``text/plain``
body that needs no CORS preflight, or a DNS-rebinding page whose own name now points at
127.0.0.1 (Ollama's CVE-2024-28224 is that bug). Editors, CLIs and SDKs are not browsers: they
send no ``Origin`` and no ``Sec-Fetch-Site``. So three checks, in order, before anything else:

1. ``Host`` must name a loopback address or a name in ``listen.allowed_hosts``: a rebinding page
   reaches proxyd under its own name, so its requests carry it.
2. A request a browser sent for a web page (an ``Origin`` header, or ``Sec-Fetch-Site`` saying
   another site) is served only if its origin is proxyd's own page (the ``Host`` it was sent to)
   or in ``listen.allowed_origins``; a CORS preflight
   from such an origin is answered here with that origin, never with ``*``.
3. With ``listen.token`` or ``listen.tokens`` set, clients send a token as their API key
   (``Authorization: Bearer``, or ``x-api-key``/``api-key``); the token says which client
   (:mod:`proxyd.config.clients`) sent the request. ``/healthz`` and ``/readyz`` need none.
4. The client's role says what it may do besides the API (:func:`check_role`): the page's data
   and ``/metrics`` need a viewer, the page's changes and Tests an admin.

The client's own credentials are never forwarded upstream (:mod:`proxyd.headers` drops them).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from proxyd.config.clients import ModelRule
from proxyd.config.settings import LOOPBACK_NAMES, OWNER, Access, Client, Role

# Local pages that reveal nothing and that health checks (Docker's HEALTHCHECK) call without a
# token; and the browser page's own files, which hold no data (a browser cannot send a token when
# it opens a page): the page asks for the token and sends it with every call for data. Its
# catalogs (OPEN_PREFIX) hold only the page's words.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/", "/ui/page.js", "/ui/i18n.js", "/ui/tabs.js", "/ui/page.css"})
OPEN_PREFIX = "/ui/i18n/"
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
_CROSS_SITE = frozenset({"cross-site", "same-site"})
ANYONE = OWNER  # who a request is when no token is asked of it: the person whose proxyd it is


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # a metric label: host, origin, token, role
    code: str
    message: str


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lowercased, without port, brackets or a trailing dot."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        value = name
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether an address (or ``localhost``) is reachable only from this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return bool((mapped or addr).is_loopback)


def exposure_problem(host: str, access: Access) -> str | None:
    """Why listening on ``host`` is refused: a non-loopback address needs ``listen.token`` (or ``tokens``)."""
    if access.tokens or is_loopback(host):
        return None
    return (
        f"listening on {host} lets other machines use your API keys: set listen.token or listen.tokens "
        "(clients then send a token as their API key), or listen on 127.0.0.1"
    )


def origin_problem(origin: str) -> str | None:
    """Why an ``allowed_origins`` entry cannot be used, if it cannot."""
    if origin.strip() in ("*", "null"):
        return f"{origin!r} would let any web page spend your API keys; list each origin, e.g. http://localhost:3000"
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{origin!r} is not an origin: write scheme://host[:port], e.g. http://localhost:3000"
    return None


def normalize_origin(origin: str) -> str:
    return origin.strip().lower().rstrip("/")


class Policy:
    """The checks of one :class:`Access` setting, prepared once per config generation."""

    __slots__ = ("_any_host", "_clients", "_hosts", "_named_clients", "_origins", "_suffixes", "rules")

    def __init__(self, access: Access) -> None:
        names = [h.strip().lower().rstrip(".") for h in access.allowed_hosts]
        self._any_host = "*" in names
        self._hosts = frozenset(LOOPBACK_NAMES) | {n for n in names if not n.startswith(".")}
        self._suffixes = tuple(n for n in names if n.startswith("."))  # ".example.com": its subdomains
        self._origins = frozenset(normalize_origin(o) for o in access.allowed_origins)
        tokens = access.tokens
        self._clients = tuple((_digest(entry.token), entry.client) for entry in tokens)
        self._named_clients = bool(access.clients)
        # The models of each client limited to some, compiled: checked once a request is routed.
        self.rules = {entry.client.name: ModelRule(entry.client.models) for entry in tokens if entry.client.models}

    @property
    def wants_token(self) -> bool:
        return bool(self._clients)

    def check_host(self, header: str | None) -> Refusal | None:
        # Browsers always send Host; only a hand-made HTTP/1.0 request can lack it.
        if header is None or self._any_host:
            return None
        if self._named(host_name(header)):
            return None
        return Refusal(
            403,
            "host",
            "host_not_allowed",
            f"proxyd answers only requests addressed to localhost, 127.0.0.1 or [::1], and this one was for "
            f"{header[:100]!r}; to reach proxyd under that name, add it to listen.allowed_hosts",
        )

    def _named(self, name: str) -> bool:
        return name in self._hosts or bool(self._suffixes and name.endswith(self._suffixes))

    def check_browser(
        self, origin: str | None, fetch_site: str | None, host: str | None = None, forwarded: bool = False
    ) -> Refusal | None:
        """``host``: the request's ``Host``, already checked. An origin naming it is proxyd's own
        page, when that host is loopback or listed by name (under ``allowed_hosts: ["*"]`` a
        rebinding page's own name would pass as well), and, for a loopback name, when the request
        did not come through a proxy (``forwarded``): a loopback ``Host`` that arrived through a
        load balancer was written by whoever sent it, not by a browser on this machine."""
        if origin is None:
            if fetch_site is not None and fetch_site.lower() in _CROSS_SITE:
                return Refusal(
                    403,
                    "origin",
                    "cross_site_request",
                    "proxyd refuses requests a browser sends on behalf of another web site (Sec-Fetch-Site: "
                    f"{fetch_site[:20]}), so that web pages cannot spend your API keys",
                )
            return None
        if self.origin_allowed(origin) or (host is not None and self._own_page(origin, host, forwarded)):
            return None
        return Refusal(
            403,
            "origin",
            "origin_not_allowed",
            f"proxyd refuses browser requests from {origin[:100]!r}, so that web pages cannot spend your API keys; "
            "if this page is yours, add its origin to listen.allowed_origins",
        )

    def _own_page(self, origin: str, host: str, forwarded: bool) -> bool:
        name = host_name(host)
        if forwarded and (name in LOOPBACK_NAMES or is_loopback(name)):
            return False
        return same_origin(origin, host) and self._named(name)

    def origin_allowed(self, origin: str) -> bool:
        return normalize_origin(origin) in self._origins

    def _find(self, digest: bytes) -> Client | None:
        # Compared with every token, in constant time and without stopping at a match, so the
        # timing tells neither a token nor which client's it is.
        found = None
        for known, client in self._clients:
            if hmac.compare_digest(digest, known):
                found = client
        return found

    def check_token(self, path: str, headers: Mapping[str, str], query: str = "") -> Refusal | Client:
        """The client whose token the request sent, or the refusal when it sent none of them."""
        if not self._clients or path in OPEN_PATHS or path.startswith(OPEN_PREFIX):
            return ANYONE
        given = client_token(headers, query)
        found = self._find(_digest(given)) if given is not None else None
        if found is not None:
            return found
        why = "no token was sent" if given is None else "the token sent is not one of proxyd's"
        where = "its entry in listen.tokens" if self._named_clients else "listen.token"
        return Refusal(
            401,
            "token",
            "invalid_api_key",
            f"proxyd requires a token ({why}): set the client's API key to the token of {where} "
            "(it is sent as Authorization: Bearer ...)",
        )


def needed_role(method: str, path: str) -> Role:
    """The weakest role that may make this request (``/status`` answers every role, shaped by it)."""
    if path.startswith("/ui/api/"):
        return "viewer" if method in ("GET", "HEAD") else "admin"
    return "viewer" if path == "/metrics" else "client"


def check_role(client: Client, method: str, path: str) -> Refusal | None:
    """Why ``client`` may not make this request, if its role is too weak."""
    needed = needed_role(method, path)
    if client.can(needed):
        return None
    what = "changes proxyd and spends providers' tokens" if needed == "admin" else "reads proxyd's state"
    return Refusal(
        403,
        "role",
        "role_not_allowed",
        f"client {client.name!r} has role {client.role}, and {method} {path[:100]} {what}, which needs role "
        f"{needed}; ask whoever runs proxyd to set role: {needed} on this client's entry in listen.tokens",
    )


# Headers a reverse proxy or load balancer adds (HAProxy's option forwardfor, nginx, Envoy).
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Via")


def came_through_proxy(headers: Mapping[str, str], peer: str | None) -> bool:
    """Whether a request was relayed by a proxy, or sent from another machine."""
    return any(name in headers for name in PROXY_HEADERS) or (bool(peer) and not is_loopback(peer or ""))


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is the page proxyd itself served under ``host``."""
    parts = urlsplit(origin.strip().lower())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc == host.strip().lower()


def client_token(headers: Mapping[str, str], query: str = "") -> str | None:
    """The token a client sent as its API key: ``Authorization: Bearer``, ``x-api-key``,
    ``api-key``, Gemini's ``x-goog-api-key``, or (Gemini's older clients) ``?key=``."""
    auth = headers.get("Authorization")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    found = headers.get("x-api-key") or headers.get("api-key") or headers.get("x-goog-api-key")
    if found is None and "key=" in query:
        found = next((unquote(p[4:]) for p in query.split("&") if p.startswith("key=")), None)
    return found


def _digest(token: str) -> bytes:
    # Comparing fixed-length digests keeps the token's length out of the timing too.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def preflight_headers(origin: str, request_headers: str | None, private_network: bool) -> dict[str, str]:
    """The answer to a CORS preflight from an allowed ``origin``."""
    out = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    if request_headers:
        out["Access-Control-Allow-Headers"] = request_headers[:2000]
    if private_network:  # Chrome's Private Network Access preflight for pages on public sites
        out["Access-Control-Allow-Private-Network"] = "true"
    return out
