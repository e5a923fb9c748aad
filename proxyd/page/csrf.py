"""The page's anti-CSRF value (pure).

Every page load gets a fresh nonce and its HMAC under a secret proxyd keeps to itself; a request
that changes something must send the pair back in a header. A cross-site page cannot read
proxyd's page, so it cannot learn a valid pair; a custom header also forces a CORS preflight,
which proxyd answers only for allowed origins. The workers of ``serve --workers`` share the
secret through their environment (:data:`SECRET_ENV`), so a page served by one is good at all.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

HEADER = "X-Proxyd-Page"
SECRET_ENV = "PROXYD_PAGE_SECRET"


def secret_from(env: Mapping[str, str], fresh: bytes) -> bytes:
    """The shared secret from the environment when a supervisor set one, else ``fresh``."""
    given = env.get(SECRET_ENV, "")
    try:
        shared = bytes.fromhex(given)
    except ValueError:
        shared = b""
    return shared if len(shared) >= 16 else fresh


def sign(secret: bytes, nonce: str) -> str:
    return f"{nonce}.{_mac(secret, nonce)}"


def valid(secret: bytes, value: str | None) -> bool:
    if not value:
        return False
    nonce, dot, mac = value.strip().partition(".")
    return bool(dot and nonce) and hmac.compare_digest(mac.encode(), _mac(secret, nonce).encode())


def _mac(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, nonce.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
