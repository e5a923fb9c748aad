"""Keeping secrets out of log events (pure).

Three nets, because a key can reach a log line by many roads (an exception's text, an echoed
error body, a header dump): the configured keys themselves, wherever they appear; the values of
fields and headers named like credentials; and strings that look like well-known key formats
(``sk-...``, ``Bearer ...``). Configured values shorter than :data:`MIN_SECRET` are not hunted
as substrings: no real API key is that short, and ``api_key: ollama`` would otherwise blank
every mention of the provider ``ollama``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from proxyd.config.settings import Config, Provider

MASK = "[redacted]"
MIN_SECRET = 8
_SENSITIVE_NAMES = frozenset({
    "authorization", "proxy_authorization", "api_key", "apikey", "x_api_key", "token", "secret", "password",
    "cookie", "set_cookie",
})  # fmt: skip
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_apikey")
# The headers a provider's config sets whose values are known to hold no secret. Every other
# configured header is treated as a credential (shown as $NAME, hunted in logs): a name cannot
# tell a secret (Ocp-Apim-Subscription-Key, Helicone-Auth, X-Secret-Key, cf-aig-authorization...).
HARMLESS_HEADERS = frozenset({
    "accept", "accept-language", "anthropic-version", "anthropic-beta", "openai-beta", "http-referer", "referer",
    "x-title", "user-agent", "content-type", "x-stainless-lang", "openai-organization", "openai-project",
    "x-ms-region", "api-version",
})  # fmt: skip
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), r"\1 " + MASK),
    (
        re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|api_key)(\W{1,4})[^\s\"',;}]{4,}"),
        r"\1\2" + MASK,
    ),
    (re.compile(r"\b(sk|gsk|xai|pk|rk)([-_])[A-Za-z0-9][A-Za-z0-9_-]{5,}"), r"\1\2" + MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), MASK),
)
# A cheap look first (plain substring tests on the lowercased text, a superset of what the
# patterns match): almost no log string holds any of these, so the patterns rarely run.
PLAIN = frozenset({int, float, bool, type(None)})  # types that hold no secret
_TRIGGERS = ("bearer", "basic", "authoriz", "api", "sk-", "sk_", "xai-", "xai_", "pk-", "pk_", "rk-", "rk_", "aiza")


def secrets_of(config: Config) -> set[str]:
    """Every configured value that must never be logged: keys, proxyd's token, credential-like headers."""
    found: set[str] = set()
    found.update(entry.token for entry in config.listen.access.tokens)
    if config.store.url:  # it may hold the store's password
        found.update(v for v in (config.store.url, urlsplit(config.store.url).password) if v)
    for p in config.providers:
        if p.api_key:
            found.add(p.api_key)
        for name, value in p.headers:
            if secret_header(name):
                found.add(value)
                found.update(part for part in value.split() if len(part) >= MIN_SECRET)
        for spec in (p.local, *(m.local for m in p.models)):
            if spec is not None:
                found.update(command_secrets(spec.argv, spec.env))
    return {s for s in found if len(s) >= MIN_SECRET}


def command_secrets(argv: Iterable[str], env: Iterable[tuple[str, str]]) -> set[str]:
    """A local server's keys: the value of a flag named like a credential (``--api-key K``,
    ``--api-key=K``), and of such an environment variable (``HF_TOKEN``): servers print their
    arguments and settings as they start."""
    found = {value for name, value in env if sensitive_name(name)}
    args = list(argv)
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if not flag.startswith("-") or not sensitive_name(flag.lstrip("-")):
            continue
        if eq:
            found.add(value)
        elif i + 1 < len(args):
            found.add(args[i + 1])
    return found


def blank_provider_secrets(body: bytes, provider: Provider) -> bytes:
    """``body`` with the provider's key and credential headers blanked: some gateways echo the
    key they rejected, and it must reach neither a client nor a terminal."""
    for secret in (provider.api_key, *(v for n, v in provider.headers if secret_header(n))):
        if secret and len(secret) >= 4 and secret.encode() in body:
            body = body.replace(secret.encode(), MASK.encode())
    return body


def secret_header(name: str) -> bool:
    """Whether a configured header's value is kept as secret: all but :data:`HARMLESS_HEADERS`."""
    return name.lower() not in HARMLESS_HEADERS


@functools.lru_cache(maxsize=512)
def sensitive_name(name: str) -> bool:
    """Is a field or header of this name a credential (``Authorization``, ``x-api-key``, ``*_token``)?"""
    norm = name.lower().replace("-", "_")
    return norm in _SENSITIVE_NAMES or norm.endswith(_SENSITIVE_SUFFIXES)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    lowered = text.lower()
    for trigger in _TRIGGERS:
        if trigger in lowered:
            for pattern, replacement in _PATTERNS:
                text = pattern.sub(replacement, text)
            break
    return text


def redact_value(key: str, value: Any, secrets: frozenset[str], depth: int = 0) -> Any:
    """``value`` with secrets blanked; a field named like a credential is blanked whole."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if value != "" and not isinstance(value, bool | int | float) and sensitive_name(key):
        return MASK
    if kind is str and len(value) < MIN_SECRET:
        return value  # shorter than any configured secret and any key format hunted
    if isinstance(value, str):
        return redact_text(value, secrets)
    if depth > 6:
        return value
    if isinstance(value, dict):
        return {k: v if type(v) in PLAIN else redact_value(str(k), v, secrets, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value("", v, secrets, depth + 1) for v in value]
    return value
