"""Errors a client can see, in the OpenAI shape, and what a provider's error answer says (pure).

Every layer raises :class:`ProxyError`; only the app boundary turns it into a response.
Messages are written for the person reading them: what went wrong and what to do.
They are built from our own words and config facts, never from an exception's repr,
which can hold request headers (and so the injected provider key).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Failure:
    """What one reason an upstream failed means to each part of proxyd: the one table of them."""

    label: str  # the metric label (proxyd_upstream_errors_total{reason}); statuses count by class
    health: str | None  # what it says of the provider: unreachable, degraded, or nothing
    status: int  # the client's status when it ends a model group's last attempt
    fails_over: bool  # before an answer head: a group may try its next target
    same_target: bool  # worth a retry on the same target (a refused connection, a 429 or 503)


# The failures with no answer head, by their reason; an answer's status is ``status_NNN`` (failure_of).
FAILURES = {
    "connect": Failure("connect", "unreachable", 502, fails_over=True, same_target=True),
    "tls": Failure("tls", "unreachable", 502, fails_over=True, same_target=False),
    "timeout": Failure("timeout", "degraded", 504, fails_over=True, same_target=False),
    "protocol": Failure("protocol", "degraded", 502, fails_over=False, same_target=False),
    # a local server proxyd runs crashed or did not start in time (its provider is red already)
    "local": Failure("local", None, 503, fails_over=True, same_target=False),
}
# The statuses a model group moves on from (the provider is busy or failing, not the request).
FAIL_OVER_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
_SAME_TARGET_STATUSES = frozenset({429, 503})

# Error codes proxyd gives upstream failures, and the reason each stands for.
ERROR_REASONS = {
    "upstream_unreachable": "connect",
    "upstream_disconnected": "connect",
    "upstream_tls_error": "tls",
    "upstream_timeout": "timeout",
    "upstream_protocol_error": "protocol",
    "upstream_redirect": "protocol",
    "stream_incomplete": "protocol",
    "upstream_error": "protocol",
    "local_server_failed": "local",
}


def failure_of(reason: str) -> Failure:
    """The row of a reason: one of :data:`FAILURES`, or ``status_NNN`` of an answer."""
    found = FAILURES.get(reason)
    if found is not None:
        return found
    tail = reason[len("status_") :]  # status_503, or a label's class: status_5xx, status_4xx
    status = int(tail) if tail.isdigit() else (502 if tail == "5xx" else 400)
    label = "status_5xx" if status >= 500 else "status_4xx"
    return Failure(label, "degraded" if status >= 500 else None, status, status in FAIL_OVER_STATUSES,
                   status in _SAME_TARGET_STATUSES)  # fmt: skip


def status_reason(status: int) -> str:
    return f"status_{status}"


_MODEL_STATUSES = frozenset({400, 404, 422})
_MODEL_COMPLAINT = re.compile(
    r"(?i)model.{0,80}(not found|does not exist|doesn't exist|unknown|no such|not available|invalid|not loaded)"
    r"|(unknown|invalid|no such) model|model_not_found"
)


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
        self.headers: dict[str, str] | None = None  # sent with the answer (Retry-After, rate-limit headers)

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, code=self.code, param=self.param)


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
    parsed = json_or_none(body)
    inner = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        return None
    detail = _detail_text(parsed, inner, body)
    who = f"provider {provider!r}"
    if status == 404 and names_model(status, body):  # vLLM: {"message": "The model `x` does not exist."}
        return ProxyError(404, f"{who}: {detail}", code="model_not_found")
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


def provider_message(body: bytes) -> str:
    """The message of a provider's error body, whatever its shape (OpenAI, vLLM, Ollama, FastAPI, text)."""
    parsed = json_or_none(body)
    return _detail_text(parsed, parsed.get("error") if isinstance(parsed, dict) else None, body)


def names_model(status: int, body: bytes, model: str | None = None, path: str = "") -> bool:
    """Whether an error answer is about the model rather than the path: ``code: model_not_found``,
    a message quoting the model id, or one saying a model is unknown (Ollama, vLLM, OpenAI...)."""
    if status not in _MODEL_STATUSES:
        return False
    parsed = json_or_none(body)
    if isinstance(parsed, dict):
        inner = parsed.get("error")
        code = inner.get("code") if isinstance(inner, dict) else parsed.get("code")
        if code == "model_not_found":
            return True
    # The path is cut out first: a message quoting the URL it did not find (and a model id that
    # happens to be a word of it) says nothing about the model.
    text = provider_message(body)
    if path:
        text = text.replace(path, " ")
    if model and len(model) >= 2 and re.search(rf"(?<![\w.-]){re.escape(model)}(?![\w.-])", text):
        return True
    return bool(_MODEL_COMPLAINT.search(text))


def json_or_none(body: bytes) -> Any:
    """A body parsed as JSON, or ``None`` when it is not JSON."""
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


def disabled_error(provider: str, reason: str) -> ProxyError:
    """A request for a provider the config cannot use (its key's variable is not set)."""
    return ProxyError(
        503, f"provider {provider!r} is not in use: {reason}", type="server_error", code="provider_disabled"
    )
