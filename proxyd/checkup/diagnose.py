"""What ``proxyd check`` sends, and what a failed probe means (pure).

The probe is the smallest real request on the wire the provider uses: one streamed token of
Chat Completions (``max_tokens: 1``) or a streamed Responses call (``max_output_tokens: 16``,
the smallest many servers accept). Each way it can fail maps to a cause and a fix a user can act
on; :func:`curl_command` prints the same request for pasting, with the key as the shell gets it
(``$OPENROUTER_API_KEY``, ``$(cat FILE)``), never the key.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from proxyd.config.keys import shell_reference
from proxyd.config.services import complete_base_url, detect
from proxyd.config.settings import Provider
from proxyd.headers import wire_defaults
from proxyd.redact import redact_text, secret_header
from proxyd.wires.registry import WIRES

MODEL_PLACEHOLDER = "$MODEL"
_KEY_HEADERS = {"bearer": "Authorization: Bearer ", "api-key": "api-key: ", "x-api-key": "x-api-key: ",
                "x-goog-api-key": "x-goog-api-key: "}  # fmt: skip


@dataclass(frozen=True)
class Probe:
    wire: str  # "chat" or "responses"
    path: str  # after base_url (with its query, where the wire has one)
    body: dict[str, Any]
    model: str


@dataclass
class Verdict:
    """One provider's check result, as printed (and as ``--json``)."""

    provider: str
    ok: bool = False
    wire: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    status: int | None = None
    cause: str | None = None
    fix: str | None = None
    notes: list[str] = field(default_factory=list)
    curl: str | None = None
    tool_calls: str | None = None  # check --tools: well, in_text, invalid, never or refused
    set: str | None = None  # check --tools: the proxyd set line that acts on it

    def failed(self, cause: str, fix: str) -> Verdict:
        self.ok, self.cause, self.fix = False, cause, fix
        return self


def probe_for(wire: str, model: str) -> Probe:
    """The smallest real request on ``wire``, as its adapter words it."""
    adapter = WIRES[wire]
    path, query, body = adapter.upstream(adapter.probe_body(model), model)  # Gemini's model is in the path
    return Probe(wire, f"{path}?{query}" if query else path, body, model)


def curl_command(provider: Provider, base_url: str, probe: Probe) -> str:
    parts = ["curl", "-sS", "-N", shlex.quote(base_url + probe.path), "-H", "'Content-Type: application/json'"]
    if provider.api_key and provider.auth in _KEY_HEADERS:
        parts += ["-H", f'"{_KEY_HEADERS[provider.auth]}{key_reference(provider.key_source)}"']
    for name, value in wire_defaults(provider, provider.headers):
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    for name, value in provider.headers:
        if secret_header(name):
            parts += ["-H", f'"{name}: ${_env_name(name)}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    data = shlex.quote(json.dumps(probe.body))
    # An unknown model is left to the shell: the quote is closed around "$MODEL".
    parts += ["-d", data.replace(MODEL_PLACEHOLDER, f"'\"{MODEL_PLACEHOLDER}\"'")]
    return " ".join(parts)


def key_reference(source: str) -> str:
    """How a shell gets the provider's key (:func:`~proxyd.config.keys.shell_reference`); ``$KEY`` when
    it is written in the config."""
    return shell_reference(source) or "$KEY"


def _env_name(header: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", header.upper())


def base_url_alternatives(base_url: str) -> list[str]:
    """Other forms of a base URL worth trying after a 404: with ``/v1``, without it, or the host's ``/v1``."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    out = []
    if path.endswith("/v1"):
        out.append(origin + path[:-3])
    else:
        out.append(origin + path + "/v1")
    if path not in ("", "/v1"):
        out.append(origin + "/v1")
    return [u for u in dict.fromkeys(out) if u.rstrip("/") != base_url.rstrip("/")]


def url_forms_to_try(provider: Provider) -> list[str]:
    """Base URLs to try after a 404: the URL as the user gave it first, when proxyd added a path."""
    given = provider.base_url.removesuffix(provider.base_url_added) if provider.base_url_added else None
    others = [u for u in base_url_alternatives(provider.base_url) if u != given]
    return [given, *others] if given else others


def working_form_advice(provider: Provider, path: str, form: str) -> tuple[str, str]:
    """(cause, fix) when ``form`` answered where the configured base_url gave a 404."""
    added = provider.base_url_added
    if added and provider.base_url == form + added:
        return (
            f"HTTP 404 for {provider.base_url}{path}: proxyd added {added} to the bare base_url "
            f"({provider.service}'s usual API path), but this server serves the API at its root",
            "set add_api_path: false for this provider   (the URL as you gave it works)",
        )
    # A bare URL of a known service would get its API path added again: say how to stop that.
    keep = " and add_api_path: false" if complete_base_url(form, detect(form))[1] else ""
    return (
        f"HTTP 404 for {provider.base_url}{path}: the base_url is not the API root",
        f"set base_url: {form}{keep}   (that form works)",
    )


def error_message(body: bytes) -> str:
    """The provider's own error text, short (OpenAI shape, FastAPI ``detail``, or plain text)."""
    text = redact_text(body[:4096].decode("utf-8", "replace"), ())
    try:
        value = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    if isinstance(value, dict):
        err = value.get("error", value.get("detail", value.get("message")))
        if isinstance(err, dict):
            err = err.get("message")
        if isinstance(err, str):
            return err[:200]
    return " ".join(text.split())[:200]


def status_verdict(v: Verdict, status: int, body: bytes, key_source: str) -> Verdict:
    """A verdict for an HTTP error answer (the 404 and unknown-model cases are the caller's)."""
    said = error_message(body)
    if status in (401, 403):
        return v.failed(
            f"HTTP {status}: the provider rejected the key ({said})",
            f"the key comes from {key_source}: check it is the right key for this base_url and is not expired",
        )
    if status == 429:
        return v.failed(f"HTTP 429: rate limited or out of quota ({said})", "wait, or check the account's quota")
    if status >= 500:
        return v.failed(f"HTTP {status}: the provider failed ({said})", "the server itself has a problem; see its logs")
    return v.failed(f"HTTP {status}: {said}", "read the provider's message above; the curl command reproduces it")


def stream_verdicts(content_type: str, stalled_s: float | None) -> tuple[str, str] | None:
    """(cause, fix) when a 200 answer was not a working stream; ``None`` when it was."""
    if content_type != "text/event-stream":
        return (
            f"the answer to a streaming request was not a stream (Content-Type {content_type or 'none'})",
            "the server, or a proxy in front of it, does not emit SSE: set streaming: false for this provider",
        )
    if stalled_s is not None:
        return (
            f"the stream stalled: no event within {stalled_s:g} s after the response head",
            "SSE is buffered by a proxy in front of the provider (nginx: proxy_buffering off) "
            "or not emitted; or set streaming: false for this provider",
        )
    return None


def unknown_model_verdict(v: Verdict, model: str, listed: tuple[str, ...] | None) -> Verdict:
    if listed:
        shown = ", ".join(listed[:20]) + (f" (and {len(listed) - 20} more)" if len(listed) > 20 else "")
        fix = f"use one of the ids GET /models lists: {shown}"
    else:
        fix = "the provider's GET /models listed no ids; check the model name in its own documentation"
    return v.failed(f"the provider does not know the model {model!r}", fix + " (set default_model)")
