"""What a ``wire: auto`` provider's answers say about the APIs it serves (pure).

Servers answer a path they lack in many shapes, most of them API-shaped: OpenAI's ``Invalid URL
(POST /v1/responses)``, llama.cpp's ``File Not Found``, FastAPI's ``{"detail": "Not Found"}``,
Go's and Express's plain text, and desktop apps that say ``Unexpected endpoint`` with a 200. A
404 about an unknown model looks the same from outside, so the body's shape decides nothing; what
decides is whether the error names the model. A missing route is then confirmed by the other
endpoint: only an answer from the chat API makes proxyd remember a provider as chat-only, and an
answer that says the model does not exist makes it remember nothing (:func:`chat_verdict`).
"""

from __future__ import annotations

from typing import Literal

from proxyd.errors import json_or_none, names_model
from proxyd.redact import redact_text

MISSING_ROUTE_STATUSES = frozenset({404, 405, 501})
_REASON_CHARS = 100

ChatVerdict = Literal["chat_only", "model_unknown", "no_api"]


def is_error_object(body: bytes) -> bool:
    """A 200 body that holds an error and no Response (some desktop apps answer unknown paths so)."""
    value = json_or_none(body)
    return isinstance(value, dict) and bool(value.get("error")) and "output" not in value


def missing_route(status: int, body: bytes, model: str | None, path: str) -> bool:
    """Whether an answer to ``path`` says the server may lack that path (to be confirmed by the
    other endpoint): 404/405/501 not about the model, or a 200 holding an error object."""
    if status in MISSING_ROUTE_STATUSES:
        return not names_model(status, body, model, path)
    return 200 <= status < 300 and is_error_object(body)


def chat_verdict(status: int, body: bytes, model: str | None, path: str = "/chat/completions") -> ChatVerdict:
    """What the chat attempt after a missing ``/responses`` shows: the chat API answered (so the
    provider is chat-only), the model is unknown there too (remember nothing), or neither path
    exists (a wrong base_url; remember nothing)."""
    if status >= 300 and names_model(status, body, model, path):
        return "model_unknown"
    if status in MISSING_ROUTE_STATUSES:
        return "no_api"
    return "chat_only"


def reason(status: int, body: bytes, path: str = "/responses") -> str:
    """Why a fallback happened, for ``/status`` and the log: the status and the start of the
    body, on one line, with anything that looks like a key blanked."""
    text = " ".join(body[: _REASON_CHARS * 4].decode("utf-8", "replace").split())
    text = redact_text(text, ())[:_REASON_CHARS]
    return f"POST {path} answered {status}" + (f": {text}" if text else " with no body")
