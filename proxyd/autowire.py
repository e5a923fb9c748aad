"""What a ``wire: auto`` provider's answers say about the APIs it serves (pure).

Servers answer a path they lack in many shapes, most of them API-shaped: OpenAI's ``Invalid URL
(POST /v1/responses)``, llama.cpp's ``File Not Found``, FastAPI's ``{"detail": "Not Found"}``,
Go's and Express's plain text, and desktop apps that say ``Unexpected endpoint`` with a 200. A
404 about an unknown model looks the same from outside, so the body's shape decides nothing; what
decides is whether the error names the model. :func:`showed` reads what an answer showed;
:data:`MOVES` says what follows, from what was known: (known, showed) → (send the request on
to the next wire, or answer with this; remember the wire, or not). A missing route is confirmed
by the next wire: only an answer from that wire's API makes proxyd remember it, and an answer
that says the model does not exist makes it remember nothing. :mod:`proxyd.wire_learning` does
the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from proxyd.errors import ProxyError, json_or_none, names_model, provider_message
from proxyd.redact import redact_text
from proxyd.wires.registry import FALLBACK_ORDER, WIRES

MISSING_ROUTE_STATUSES = frozenset({404, 405, 501})
_REASON_CHARS = 100

ChatVerdict = Literal["chat_only", "model_unknown", "no_api"]
Scope = Literal["provider", "model"]
# What is known of the provider's wire when an answer comes: nothing yet, a wire it showed
# before, or an earlier wire refused this very request.
Known = Literal["unknown", "learned", "probing"]
# What the answer showed (:func:`showed`): its API answered; the path is missing (or a 200 says
# so); the API sends the request elsewhere (chat's "use /responses"); the API answered with an
# error of its own; the model is unknown there; the request has no form on that wire.
Showed = Literal["answered", "no_route", "elsewhere", "its_error", "no_model", "unsendable"]


@dataclass(frozen=True)
class Move:
    next: bool  # send this very request on the next wire
    remember: bool  # remember the wire just tried, for the provider or (a model's refusal) the model


ANSWER, KEEP, NEXT = Move(next=False, remember=False), Move(next=False, remember=True), Move(next=True, remember=False)

# (what is known, what the answer showed) -> what to do. A known wire is not doubted over a
# missing route (it answered before: this is its own error), only over chat's "use /responses";
# a wire tried after a refusal is remembered once its API answered anything but "no such model".
MOVES: dict[tuple[Known, Showed], Move] = {
    ("unknown", "answered"): KEEP,
    ("unknown", "no_route"): NEXT,
    ("unknown", "elsewhere"): NEXT,
    ("unknown", "its_error"): ANSWER,
    ("unknown", "no_model"): ANSWER,
    ("unknown", "unsendable"): ANSWER,
    ("learned", "answered"): ANSWER,
    ("learned", "no_route"): ANSWER,
    ("learned", "elsewhere"): NEXT,
    ("learned", "its_error"): ANSWER,
    ("learned", "no_model"): ANSWER,
    ("learned", "unsendable"): ANSWER,
    ("probing", "answered"): KEEP,
    ("probing", "no_route"): NEXT,
    ("probing", "elsewhere"): NEXT,
    ("probing", "its_error"): KEEP,
    ("probing", "no_model"): ANSWER,
    ("probing", "unsendable"): NEXT,
}

# How servers tell a chat client to use the Responses API, in their own words. The answer that
# follows on /responses confirms it (a legacy completions model is "not a chat model" too).
_RESPONSES_ONLY = re.compile(
    r"only supported in v1/responses"  # OpenAI: codex-mini, o1-pro, deep research (404)
    r"|not accessible via the /chat/completions endpoint"  # GitHub Copilot (400, unsupported_api_for_model)
    r"|chatCompletion operation does not work with the specified model"  # Azure OpenAI (400, OperationNotSupported)
    r"|not a chat model"  # OpenAI, for some Codex models (404)
    r"|(?:please )?use (?:the )?/?v1/responses"  # gateways in front of Codex accounts (sub2api, 400)
    r"|use the responses api",
    re.IGNORECASE,
)
_RESPONSES_ONLY_CODES = frozenset({"unsupported_api_for_model", "OperationNotSupported"})
_NAMES_A_MODEL = re.compile(r"\bmodel\b", re.IGNORECASE)


@dataclass(frozen=True)
class NoRoute:
    """An answer said the provider may lack ``wire`` (at ``path``), for this reason, to be
    confirmed on the next wire: for every request (``provider``) or for this model only."""

    path: str
    reason: str
    wire: str = "responses"
    scope: Scope = "provider"


def is_error_object(body: bytes, answer_key: str = "output") -> bool:
    """A 200 body that holds an error and no answer (some desktop apps answer unknown paths so)."""
    value = json_or_none(body)
    return isinstance(value, dict) and bool(value.get("error")) and answer_key not in value


def missing_route(status: int, body: bytes, model: str | None, path: str, answer_key: str = "output") -> bool:
    """Whether an answer to ``path`` says the server may lack that path (to be confirmed by the
    other endpoint): 404/405/501 not about the model, or a 200 holding an error object."""
    if status in MISSING_ROUTE_STATUSES:
        return not names_model(status, body, model, path)
    return 200 <= status < 300 and is_error_object(body, answer_key)


def showed(wire: str, status: int, body: bytes | None, model: str | None, path: str, answer_key: str) -> Showed:
    """What an answer on ``wire`` showed of the API behind ``path`` (``body``: ``None`` for an
    answer not read, a stream or a 200 on a wire taken at its word)."""
    if 200 <= status < 300:
        return "no_route" if body is not None and is_error_object(body, answer_key) else "answered"
    data = body or b""
    if WIRES[wire].elsewhere is not None and responses_only(status, data) is not None:
        return "elsewhere"
    if missing_route(status, data, model, path, answer_key):
        return "no_route"
    return "no_model" if names_model(status, data, model, path) else "its_error"


def refused(wire: str, path: str, status: int, body: bytes, model: str | None, seen: Showed) -> NoRoute:
    """The refusal that sends the request on: for this model or for every request."""
    scope = responses_only(status, body) if seen == "elsewhere" else None
    return NoRoute(path, reason(status, body, path), wire, scope or "provider")


def refusal(
    wire: str, path: str, status: int, body: bytes, model: str | None, *, learned: bool, answer_key: str = "output"
) -> NoRoute | None:
    """Whether an answer on ``wire`` sends the request to the next wire (:data:`MOVES`): a chat
    answer that says the model (or the server) is served only on /responses, or, while the
    provider's wire is not known yet, a missing route."""
    seen = showed(wire, status, body, model, path, answer_key)
    if not MOVES["learned" if learned else "unknown", seen].next:
        return None
    return refused(wire, path, status, body, model, seen)


def chat_verdict(status: int, body: bytes, model: str | None, path: str = "/chat/completions") -> ChatVerdict:
    """What the chat attempt after a missing ``/responses`` shows (:func:`showed`, in the words
    of the question asked): the chat API answered (so the provider is chat-only), the model is
    unknown there too (remember nothing), or neither path exists (a wrong base_url)."""
    seen = showed("chat", status, body, model, path, "choices")
    return "model_unknown" if seen == "no_model" else "no_api" if seen == "no_route" else "chat_only"


def responses_only(status: int, body: bytes) -> Scope | None:
    """Whether an error answer to a chat request says to use the Responses API instead: for
    this model ("model": OpenAI, Azure, Copilot), or for every request ("provider": a gateway
    that serves only /responses)."""
    if not 400 <= status < 500:
        return None
    parsed = json_or_none(body)
    inner = parsed.get("error") if isinstance(parsed, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    text = provider_message(body)
    if code not in _RESPONSES_ONLY_CODES and not _RESPONSES_ONLY.search(text):
        return None
    return "model" if _NAMES_A_MODEL.search(text) else "provider"


def next_wire(client: str, tried: Sequence[str]) -> str | None:
    """The wire to try next for a ``wire: auto`` provider: the client's own first, then chat,
    then Responses; ``None`` when every one was tried."""
    for wire in (client, *FALLBACK_ORDER):
        if wire not in tried:
            return wire
    return None


def served_nowhere(provider: str, base_url: str, paths: Sequence[str], last: NoRoute) -> ProxyError:
    """The answer when every wire refused: which paths, and what to check."""
    if len(paths) == 1:
        said = f"does not serve {paths[0]}"
    elif len(paths) == 2:
        said = f"serves neither {paths[0]} nor {paths[1]}"
    else:
        said = f"serves none of {', '.join(paths[:-1])} or {paths[-1]}"
    hint = "" if "/v1" in base_url else f"; base_url probably lacks /v1 (try {base_url.rstrip('/')}/v1)"
    return ProxyError(
        404, f"provider {provider!r} {said} at {base_url} ({last.reason}): check its base_url{hint}",
        code="upstream_path_not_found",
    )  # fmt: skip


def reason(status: int, body: bytes, path: str = "/responses") -> str:
    """Why a fallback happened, for ``/status`` and the log: the status and the start of the
    body, on one line, with anything that looks like a key blanked."""
    text = " ".join(body[: _REASON_CHARS * 4].decode("utf-8", "replace").split())
    text = redact_text(text, ())[:_REASON_CHARS]
    return f"POST {path} answered {status}" + (f": {text}" if text else " with no body")
