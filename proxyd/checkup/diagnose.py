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
from proxyd.diagnosis import Diagnosis, Value, note
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
    diagnosis: dict[str, Any] | None = None  # the cause's and fix's codes, for the page's languages
    noted: list[dict[str, Any]] = field(default_factory=list)  # the notes' codes, likewise

    def failed(self, problem: Diagnosis) -> Verdict:
        self.ok, self.cause, self.fix, self.diagnosis = False, problem.cause, problem.fix, problem.as_json()
        return self

    def note(self, code: str, **params: Value) -> None:
        said = note(code, **params)
        self.notes.append(said["text"])
        self.noted.append(said)


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


def working_form_advice(provider: Provider, path: str, form: str) -> Diagnosis:
    """Why, and what to set, when ``form`` answered where the configured base_url gave a 404."""
    added, url = provider.base_url_added, provider.base_url + path
    if added and provider.base_url == form + added:
        return Diagnosis("api_path_added", {"url": url, "added": added, "service": provider.service or ""})
    # A bare URL of a known service would get its API path added again: say how to stop that.
    bare = bool(complete_base_url(form, detect(form))[1])
    return Diagnosis("not_api_root", {"url": url, "form": form}, "use_form_bare" if bare else "use_form")


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
    return v.failed(status_diagnosis(status, body, key_source))


def status_diagnosis(status: int, body: bytes, key_source: str) -> Diagnosis:
    params: dict[str, Value] = {"status": status, "said": error_message(body), "key_source": key_source}
    if status in (401, 403):
        return Diagnosis("key_rejected", params)
    if status == 429:
        return Diagnosis("rate_limited", params)
    return Diagnosis("provider_failed" if status >= 500 else "http_error", params)


def stream_verdicts(content_type: str, stalled_s: float | None) -> Diagnosis | None:
    """What is wrong when a 200 answer was not a working stream; ``None`` when it was."""
    if content_type != "text/event-stream":
        return Diagnosis("not_a_stream", {"content_type": content_type or "none"})
    if stalled_s is not None:
        return Diagnosis("stream_stalled", {"seconds": stalled_s})
    return None


def unknown_model_verdict(v: Verdict, model: str, listed: tuple[str, ...] | None) -> Verdict:
    params: dict[str, Value] = {"model": model, "ids": ", ".join(listed[:20]) if listed else ""}
    if listed and len(listed) > 20:
        return v.failed(Diagnosis("unknown_model", {**params, "more": len(listed) - 20}, "pick_listed_more"))
    return v.failed(Diagnosis("unknown_model", params, "pick_listed" if listed else "none_listed"))
