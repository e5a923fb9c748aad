"""A diagnosis: what is wrong and what to do about it, each under a stable code (pure).

The words here are English, as ``proxyd check``, the logs and API errors say them. The page
shows the same diagnosis in its reader's language: its catalogs hold ``cause.CODE`` and
``fix.CODE`` for every code below, with the same ``{names}``, filled from ``params``. So a
wording may change freely here; a new code, or a new name in a text, needs each catalog's
entry too (``tests/page/test_catalogs.py`` says which).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Value = str | int | float
_SLOT = re.compile(r"\{(\w+)\}")

CAUSES = {
    "tls_untrusted": "TLS: the certificate of {where} is not trusted (self-signed or a private CA)",
    "tls_failed": "TLS handshake with {where} failed",
    "dns_offline": "cannot resolve {host}: this machine has no working DNS or network (the name is {service}'s own)",
    "dns_unknown": "cannot resolve {host}",
    "refused": "connection refused or failed at {where}",
    "timeout": "no answer from {where} within {seconds} s",
    "request_failed": "the request to {where} failed ({error})",
    "key_rejected": "HTTP {status}: the provider rejected the key ({said})",
    "rate_limited": "HTTP 429: rate limited or out of quota ({said})",
    "provider_failed": "HTTP {status}: the provider failed ({said})",
    "http_error": "HTTP {status}: {said}",
    "not_a_stream": "the answer to a streaming request was not a stream (Content-Type {content_type})",
    "stream_stalled": "the stream stalled: no event within {seconds} s after the response head",
    "unknown_model": "the provider does not know the model '{model}'",
    "api_path_added": "HTTP 404 for {url}: proxyd added {added} to the bare base_url ({service}'s usual API path), "
    "but this server serves the API at its root",
    "not_api_root": "HTTP 404 for {url}: the base_url is not the API root",
    "http_404": "HTTP 404 for {url}",
    "no_model": "no model to probe: no default_model, no models, and GET /models answered HTTP {status}",
    "no_model_listed": "no model to probe: no default_model, no models, and GET /models listed none",
    "no_model_list": "GET /models answered HTTP {status} with no model list",
    "key_env_unset": "{names} is not set in proxyd's environment",
    "keys_env_unset": "{names} are not set in proxyd's environment",
    "slow_listing": "slow: GET /models took {seconds} s (degraded_after_s {limit})",
    "not_answer": "the answer was not {kind}",
    "local_unstartable": "local server '{name}' could not be started: {error} ({program})",
    "local_not_ready": "local server '{name}' did not answer GET {url} within ready.timeout_s ({seconds} s)",
    "local_exited_loading": "local server '{name}' exited with code {code} while loading",
    "local_exited_serving": "local server '{name}' exited with code {code} while idle or serving",
}
FIXES = {
    "tls_untrusted": "import the CA into the system trust store (or point SSL_CERT_FILE at it)",
    "tls_failed": "check it really speaks https on that port (or use http://)",
    "dns_offline": "connect this machine to the network (or set HTTPS_PROXY if it reaches the internet through "
    "one), then check again",
    "dns_unknown": "check the host name in base_url, and this machine's network",
    "refused": "the server is not running there, or a firewall blocks it: start it, or correct base_url",
    "timeout": "the server is overloaded, a slow model is loading, or a firewall drops packets; retry with --timeout",
    "request_failed": "check base_url and that the server is up",
    "key_rejected": "the key comes from {key_source}: check it is the right key for this base_url and is not expired",
    "rate_limited": "wait, or check the account's quota",
    "provider_failed": "the server itself has a problem; see its logs",
    "http_error": "read the provider's message above; the curl command reproduces it",
    "not_a_stream": "the server, or a proxy in front of it, does not emit SSE: set streaming: false for this provider",
    "stream_stalled": "SSE is buffered by a proxy in front of the provider (nginx: proxy_buffering off) "
    "or not emitted; or set streaming: false for this provider",
    "pick_listed": "use one of the ids GET /models lists: {ids} (set default_model)",
    "pick_listed_more": "use one of the ids GET /models lists: {ids} (and {more} more) (set default_model)",
    "none_listed": "the provider's GET /models listed no ids; check the model name in its own documentation "
    "(set default_model)",
    "see_models": "see proxyd models for the ids it lists",
    "api_path_added": "set add_api_path: false for this provider   (the URL as you gave it works)",
    "use_form": "set base_url: {form}   (that form works)",
    "use_form_bare": "set base_url: {form} and add_api_path: false   (that form works)",
    "wrong_path": "base_url probably lacks /v1 or has an extra path; also tried {forms} without success",
    "set_default_model": "set default_model for this provider (the curl command takes the model as $MODEL)",
    "list_models": "set default_model for this provider, or list its models",
    "type_models": "type the model ids this provider serves",
    "key_env_unset": "export it in the shell that starts proxyd serve, or for systemd add Environment={first}=... "
    "(or EnvironmentFile=) to the unit, or use api_key_file; then reload",
    "slow_listing": "the server is busy or far away; raise health.degraded_after_s if this is its usual pace",
    "see_logs": "see the provider's logs",
    "local_unstartable": "check the command: its program must exist on this machine and be runnable by the user "
    "proxyd runs as",
    "local_not_ready": "a large model may need longer: raise ready.timeout_s; or check ready.path and the server's "
    "last lines",
    "local_exited_loading": "read the server's last lines: a wrong model path, an unknown option or too little memory "
    "are the usual causes; Start tries again",
    "local_exited_serving": "read the server's last lines; proxyd starts it again at the next request",
}
# What ``proxyd check`` adds about how it probed (shown under a Test's result).
NOTES = {
    "probing_first": "no default_model: probing '{model}', the first id GET /models lists",
    "no_responses": "no /responses here (wire: auto; {reason}): proxyd translates Responses requests to chat",
    "base_url_added": "base_url had no path: proxyd added {added}, and {url} works",
    "form_answered": "{url} answered {status}",
}


def shown(value: object) -> str:
    """A value as the English text has it: text as it is, a float without a trailing ``.0``,
    anything else as YAML and JSON write it (``true``, not ``True``)."""
    if isinstance(value, str):
        return value
    return f"{value:g}" if isinstance(value, float) else json.dumps(value)


def say(template: str, params: Mapping[str, Value]) -> str:
    """``template`` with each ``{name}`` filled, as the page fills it (other braces, as in
    ``{repair: true}``, are text)."""
    return _SLOT.sub(lambda m: shown(params[m[1]]) if m[1] in params else m[0], template)


@dataclass(frozen=True)
class Diagnosis:
    """``code`` names the cause (and the fix, unless ``fix_code`` names another); ``via`` is the
    request it was seen on (``GET /models``), said before the cause."""

    code: str
    params: Mapping[str, Value] = field(default_factory=dict)
    fix_code: str | None = None
    via: str = ""

    @property
    def cause(self) -> str:
        text = say(CAUSES[self.code], self.params)
        return f"{self.via}: {text}" if self.via else text

    @property
    def fix(self) -> str:
        return say(FIXES[self.fix_code or self.code], self.params)

    @property
    def text(self) -> str:
        return f"{self.cause}: {self.fix}"

    def as_json(self) -> dict[str, Any]:
        """What the page needs to say it in another language."""
        return {"code": self.code, "fix_code": self.fix_code or self.code, "params": dict(self.params),
                "via": self.via}  # fmt: skip


def note(code: str, **params: Value) -> dict[str, Any]:
    """A note of ``proxyd check``'s, in English and as the page needs it."""
    return {"code": code, "params": params, "text": say(NOTES[code], params)}
