"""Errors a client can see, in the OpenAI shape.

Every layer raises :class:`ProxyError`; only the app boundary turns it into a response.
Messages are written for the person reading them: what went wrong and what to do.
They are built from our own words and config facts, never from an exception's repr,
which can hold request headers (and so the injected provider key).
"""

from __future__ import annotations

import json
from typing import Any


class ProxyError(Exception):
    """A failure with an HTTP status and an OpenAI-shaped body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, code=self.code, param=self.param)

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()


def error_body(
    message: str, *, type: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "code": code, "param": param}}


def bad_request(message: str, *, code: str = "invalid_request", param: str | None = None) -> ProxyError:
    return ProxyError(400, message, code=code, param=param)


def upstream_error(status: int, message: str, code: str) -> ProxyError:
    """An error on the provider's side of the proxy (502/504)."""
    return ProxyError(status, message, type="upstream_error", code=code)


def reshape_upstream_error(status: int, body: bytes, *, provider: str, base_url: str, path: str) -> ProxyError | None:
    """An OpenAI-shaped error for a provider's error answer, or ``None`` to relay it unchanged.

    Bodies already in the OpenAI shape pass as they are. Others (``{"detail": ...}`` from
    FastAPI servers, ``{"error": "text"}`` from Ollama, HTML, plain text) are reshaped with the
    same status, and a bare 404 gets the hint users need most: a base_url without ``/v1``.
    """
    parsed = _json_or_none(body)
    inner = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        return None
    detail = _detail_text(parsed, inner, body)
    who = f"provider {provider!r}"
    if status == 404 and isinstance(inner, str):  # Ollama: {"error": "model 'x' not found, try pulling it"}
        return ProxyError(404, f"{who}: {detail}", type="invalid_request_error", code="upstream_not_found")
    if status == 404:
        if "/v1" not in base_url:
            hint = f"base_url probably lacks /v1 (try {base_url}/v1)"
        else:
            hint = "check the provider's base_url, or whether it serves this endpoint"
        return ProxyError(
            404, f"{who} answered 404 for {path} ({base_url}{path}): {hint}", code="upstream_path_not_found"
        )
    kind = "invalid_request_error" if status < 500 else "upstream_error"
    return ProxyError(
        status, f"{who} answered {status}: {detail or 'no details given'}", type=kind, code="upstream_error"
    )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _detail_text(parsed: Any, inner: Any, body: bytes) -> str:
    if isinstance(inner, str):
        return inner
    if isinstance(inner, dict) and inner.get("message") is not None:
        return str(inner["message"])
    if isinstance(parsed, dict):
        for key in ("detail", "message", "msg", "error_message"):
            if parsed.get(key):
                value = parsed[key]
                return value if isinstance(value, str) else json.dumps(value)[:500]
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        return "an HTML page (not an API answer)"
    return " ".join(text.split())[:500]
