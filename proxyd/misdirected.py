"""Requests a client sent to the wrong place, answered with the client's mistake (pure).

A doubled ``/v1`` (a user who set ``ANTHROPIC_BASE_URL=http://127.0.0.1:8787/v1``, or an
OpenAI base URL ending in ``/v1/v1``) would reach the provider, whose 404 then blamed the
provider's ``base_url``; a GET of an endpoint that takes POST the same. These name the client's
setting instead, in the shape of the API it meant to call.
"""

from __future__ import annotations

from proxyd.errors import ProxyError
from proxyd.routing import Target

# The endpoints that take only POST: what a GET of them gets told.
_POST_ONLY = {
    "chat.completions": "chat completions", "completions": "completions", "embeddings": "embeddings",
    "messages": "the Messages API", "messages.count_tokens": "count_tokens", "responses": "the Responses API",
}  # fmt: skip


def meant(target: Target) -> Target:
    """The target the client meant: without a doubled ``/v1``."""
    if target.rest.startswith("/v1/"):
        return Target(rest=target.rest[3:], query=target.query, pinned=target.pinned)
    return target


def misdirected(target: Target, method: str, host: str) -> ProxyError | None:
    """Why this request is the client's mistake, or None."""
    if target.rest.startswith("/v1/"):
        return _doubled(meant(target), host)
    what = _POST_ONLY.get(target.endpoint)
    if what is not None and method not in ("POST", "OPTIONS"):
        return ProxyError(
            405,
            f"{what} takes POST, and this request was {method[:10]} /v1{target.rest[:100]}",
            code="method_not_allowed",
        )
    return None


def _doubled(inner: Target, host: str) -> ProxyError:
    origin = f"http://{host[:100] or '127.0.0.1:8787'}"
    if inner.endpoint.startswith("messages"):
        fix = (
            f"for Claude Code and the anthropic SDK set ANTHROPIC_BASE_URL={origin} (they add /v1/messages themselves)"
        )
    else:
        fix = f"set the client's base URL to {origin}/v1 (it adds /v1{inner.rest[:60]} after that)"
    return ProxyError(
        404,
        f"the client's base URL ends in /v1 twice (this request was for /v1/v1{inner.rest[:100]}): {fix}",
        code="unknown_path",
    )
