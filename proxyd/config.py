"""Configuration: frozen dataclasses and ``parse_config``, which checks a whole YAML document.

Parsing is pure. The environment and the reading of ``api_key_file`` are handed in, so every
rule here is tested with plain tables; :mod:`proxyd.loader` does the file I/O. Every problem is
collected with its YAML path (``providers[1].base_url: ...``) so a user fixes them all in one go.
Secrets never enter a message: errors name the variable or file a key came from, never the key.
"""

from __future__ import annotations

__all__ = [
    "WIRES", "Access", "Config", "ConfigError", "Health", "Keepalive", "Listen", "MiB", "ModelEntry", "Provider",
    "Store", "Timeouts", "Wire", "expand_env", "normalize_base_url", "parse_config",
]  # fmt: skip

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from proxyd.access import exposure_problem, origin_problem
from proxyd.keys import CTRL_RE, LISTEN_TOKEN, PROVIDER_KEY, Env, ReadFile, expand_env, parse_secret
from proxyd.settings import (
    WIRES,
    Access,
    Config,
    ConfigError,
    Health,
    Keepalive,
    Listen,
    MiB,
    ModelEntry,
    Provider,
    Store,
    Timeouts,
    Wire,
)
from proxyd.yamlcheck import Errors, check_keys, integer, mapping, number, section

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PASTED_SUFFIXES = ("/chat/completions", "/responses")
# Headers proxyd owns on the upstream request; a provider may not set them.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-encoding"})


def parse_config(raw: object, *, env: Env, read_file: ReadFile) -> Config:
    """Check a parsed YAML document and build a :class:`Config`, or raise :class:`ConfigError`."""
    errs = Errors()
    doc = section(raw, "(top level)", errs)
    top = {"listen", "default_provider", "providers", "tcp_keepalive", "store", "health", "shutdown_grace_s"}
    check_keys(doc, top, "", errs)
    listen = _parse_listen(doc.get("listen"), env, read_file, errs)
    keepalive = _parse_keepalive(doc.get("tcp_keepalive"), errs)
    providers = _parse_providers(doc.get("providers"), env, read_file, errs)
    default = doc.get("default_provider")
    names = [p.name for p in providers]
    if default is not None and not isinstance(default, str):
        errs.add("default_provider", "must be a provider name (a string)")
        default = None
    elif default is not None and providers and default not in names:
        errs.add("default_provider", f"{default!r} is not a configured provider (have: {', '.join(names)})")
    _check_uniqueness(providers, errs)
    store = _parse_store(doc.get("store"), errs)
    health = _parse_health(doc.get("health"), errs)
    grace = doc.get("shutdown_grace_s", Config.shutdown_grace_s)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace <= 24 * 3600:
        errs.add("shutdown_grace_s", "must be a number of seconds from 0 to 86400")
        grace = Config.shutdown_grace_s
    if errs.items:
        raise ConfigError(errs.items)
    return Config(
        listen=listen,
        providers=tuple(providers),
        default_provider=default,
        tcp_keepalive=keepalive,
        store=store,
        health=health,
        shutdown_grace_s=grace,
    )


def normalize_base_url(url: str) -> str:
    """Strip whitespace, trailing slashes and a pasted endpoint suffix."""
    url = url.strip().rstrip("/")
    for suffix in _PASTED_SUFFIXES:
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
    return url


# --- sections -------------------------------------------------------------------------------------


_LISTEN_KEYS = {
    "host", "port", "max_body_mb", "header_timeout_s", "body_timeout_s",
    "token", "token_file", "token_credential", "allowed_hosts", "allowed_origins",
}  # fmt: skip


def _parse_listen(raw: object, env: Env, read_file: ReadFile, errs: Errors) -> Listen:
    doc = section(raw, "listen", errs)
    check_keys(doc, _LISTEN_KEYS, "listen", errs)
    d = Listen()
    host = doc.get("host", d.host)
    if not isinstance(host, str) or not host:
        errs.add("listen.host", "must be an address such as 127.0.0.1")
        host = d.host
    port = integer(doc, "port", d.port, "listen", errs, lo=0, hi=65535)
    body_mb = number(doc, "max_body_mb", d.max_body_bytes / MiB, "listen", errs, lo=0.001)
    access = _parse_access(doc, env, read_file, errs)
    problem = exposure_problem(host, access)
    if problem is not None and _is_address(host):
        errs.add("listen.host", problem)  # names are checked once resolved, when proxyd binds
    return Listen(
        host=host,
        port=port,
        max_body_bytes=int(body_mb * MiB),
        header_timeout_s=number(doc, "header_timeout_s", d.header_timeout_s, "listen", errs, lo=0.05),
        body_timeout_s=number(doc, "body_timeout_s", d.body_timeout_s, "listen", errs, lo=0.05),
        access=access,
    )


def _parse_access(doc: dict[str, Any], env: Env, read_file: ReadFile, errs: Errors) -> Access:
    token, source = parse_secret(doc, "listen", LISTEN_TOKEN, env, read_file, errs)
    hosts = _strings(doc.get("allowed_hosts"), "listen.allowed_hosts", "host names such as proxyd.internal", errs)
    origins = _strings(doc.get("allowed_origins"), "listen.allowed_origins", "origins", errs)
    for i, origin in enumerate(origins):
        problem = origin_problem(origin)
        if problem is not None:
            errs.add(f"listen.allowed_origins[{i}]", problem)
    return Access(token=token, token_source=source, allowed_hosts=hosts, allowed_origins=origins)


def _strings(raw: object, path: str, what: str, errs: Errors) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        errs.add(path, f"must be a list of {what}")
        return ()
    return tuple(v.strip() for v in raw)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _parse_keepalive(raw: object, errs: Errors) -> Keepalive:
    doc = section(raw, "tcp_keepalive", errs)
    check_keys(doc, {"idle_s", "interval_s", "count"}, "tcp_keepalive", errs)
    d = Keepalive()
    return Keepalive(
        idle_s=integer(doc, "idle_s", d.idle_s, "tcp_keepalive", errs, lo=1, hi=32767),
        interval_s=integer(doc, "interval_s", d.interval_s, "tcp_keepalive", errs, lo=1, hi=32767),
        count=integer(doc, "count", d.count, "tcp_keepalive", errs, lo=1, hi=127),
    )


def _parse_store(raw: object, errs: Errors) -> Store:
    doc = section(raw, "store", errs)
    check_keys(doc, {"enabled", "path", "max_age_days", "max_mb"}, "store", errs)
    d = Store()
    enabled, path = doc.get("enabled", True), doc.get("path")
    if not isinstance(enabled, bool):
        errs.add("store.enabled", "must be true or false")
        enabled = True
    if path is not None and (not isinstance(path, str) or not path):
        errs.add("store.path", "must be a file path")
        path = None
    return Store(
        enabled=enabled,
        path=path,
        max_age_days=number(doc, "max_age_days", d.max_age_days, "store", errs, lo=0.001),
        max_mb=number(doc, "max_mb", d.max_mb, "store", errs, lo=0.001),
    )


def _parse_health(raw: object, errs: Errors) -> Health:
    doc = section(raw, "health", errs)
    check_keys(doc, {"interval_s", "degraded_after_s", "timeout_s"}, "health", errs)
    d = Health()
    return Health(
        interval_s=number(doc, "interval_s", d.interval_s, "health", errs, lo=0.0),
        degraded_after_s=number(doc, "degraded_after_s", d.degraded_after_s, "health", errs, lo=0.001),
        timeout_s=number(doc, "timeout_s", d.timeout_s, "health", errs, lo=0.01),
    )


def _parse_providers(raw: object, env: Env, read_file: ReadFile, errs: Errors) -> list[Provider]:
    if raw is None:
        errs.add("providers", "no providers configured: add at least one with a name and a base_url")
        return []
    if not isinstance(raw, list):
        errs.add("providers", "must be a list of provider entries (each starting with '- name: ...')")
        return []
    out = []
    for i, entry in enumerate(raw):
        provider = _parse_provider(entry, f"providers[{i}]", env, read_file, errs)
        if provider is not None:
            out.append(provider)
    if not raw:
        errs.add("providers", "no providers configured: add at least one with a name and a base_url")
    return out


_PROVIDER_KEYS = {
    "name", "base_url", "api_key", "api_key_file", "credential", "wire", "default_model",
    "headers", "models", "streaming", "timeouts",
}  # fmt: skip


def _parse_provider(raw: object, path: str, env: Env, read_file: ReadFile, errs: Errors) -> Provider | None:
    doc = mapping(raw, path, errs)
    if doc is None:
        return None
    check_keys(doc, _PROVIDER_KEYS, path, errs)
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        errs.add(f"{path}.name", "required: letters, digits, '.', '_' or '-' (no '/'), e.g. name: ollama")
        name = f"<{path}>"
    base_url = _parse_base_url(doc.get("base_url"), f"{path}.base_url", env, errs)
    api_key, key_source = parse_secret(doc, path, PROVIDER_KEY, env, read_file, errs)
    wire = doc.get("wire", "auto")
    if wire not in WIRES:
        errs.add(f"{path}.wire", f"must be one of {', '.join(WIRES)} (got {wire!r})")
        wire = "auto"
    default_model = doc.get("default_model")
    if default_model is not None and (not isinstance(default_model, str) or not default_model):
        errs.add(f"{path}.default_model", "must be a model id (a string)")
        default_model = None
    streaming = doc.get("streaming", True)
    if not isinstance(streaming, bool):
        errs.add(f"{path}.streaming", "must be true or false")
        streaming = True
    return Provider(
        name=name,
        base_url=base_url,
        api_key=api_key,
        key_source=key_source,
        wire=wire,
        default_model=default_model,
        headers=_parse_headers(doc.get("headers"), f"{path}.headers", env, errs),
        models=_parse_models(doc.get("models"), f"{path}.models", errs),
        streaming=streaming,
        timeouts=_parse_timeouts(doc.get("timeouts"), f"{path}.timeouts", errs),
    )


def _parse_base_url(raw: object, path: str, env: Env, errs: Errors) -> str:
    if not isinstance(raw, str) or not raw.strip():
        errs.add(path, "required: the provider's OpenAI-compatible URL, e.g. http://127.0.0.1:11434/v1")
        return ""
    value, missing = expand_env(raw, env)
    for var in missing:
        errs.add(path, f"environment variable {var} is not set")
    url = normalize_base_url(value)
    if missing:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        errs.add(path, f"must start with http:// or https:// (got {url!r})")
    elif not parts.hostname:
        errs.add(path, f"has no host (got {url!r})")
    elif parts.username or parts.password:
        errs.add(path, "must not hold credentials: put the key in api_key, api_key_file or headers")
    elif parts.query or parts.fragment:
        errs.add(path, "must not have a query string or fragment")
    return url


def _parse_headers(raw: object, path: str, env: Env, errs: Errors) -> tuple[tuple[str, str], ...]:
    doc = section(raw, path, errs)
    out = []
    for name, value in doc.items():
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            errs.add(path, f"{name!r} is not a valid header name")
            continue
        if name.lower() in _RESERVED_HEADERS:
            errs.add(f"{path}.{name}", "is set by proxyd itself and cannot be configured")
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            errs.add(f"{path}.{name}", "must be a string")
            continue
        text, missing = expand_env(str(value), env)
        for var in missing:
            errs.add(f"{path}.{name}", f"environment variable {var} is not set")
        if CTRL_RE.search(text):
            errs.add(f"{path}.{name}", "contains a line break or control character")
            continue
        out.append((name, text))
    return tuple(out)


def _parse_models(raw: object, path: str, errs: Errors) -> tuple[ModelEntry, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errs.add(path, "must be a list of models, e.g. - {id: llama3.2, alias: fast}")
        return ()
    out = []
    for i, item in enumerate(raw):
        entry = _parse_model(item, f"{path}[{i}]", errs)
        if entry is not None:
            out.append(entry)
    return tuple(out)


def _parse_model(raw: object, path: str, errs: Errors) -> ModelEntry | None:
    if isinstance(raw, str):
        return ModelEntry(id=raw)
    doc = mapping(raw, path, errs)
    if doc is None:
        return None
    check_keys(doc, {"id", "alias", "context_window", "capabilities", "tags"}, path, errs)
    model_id, alias = doc.get("id"), doc.get("alias")
    if not isinstance(model_id, str) or not model_id:
        errs.add(f"{path}.id", "required: the model id the provider knows")
        return None
    if alias is not None and (not isinstance(alias, str) or not alias):
        errs.add(f"{path}.alias", "must be a non-empty string")
        alias = None
    window = doc.get("context_window")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window <= 0):
        errs.add(f"{path}.context_window", "must be a positive whole number of tokens")
        window = None
    caps = mapping(doc.get("capabilities", {}), f"{path}.capabilities", errs) or {}
    for cap, flag in caps.items():
        if not isinstance(flag, bool):
            errs.add(f"{path}.capabilities.{cap}", "must be true or false")
    tags = doc.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errs.add(f"{path}.tags", "must be a list of strings")
        tags = []
    capabilities = tuple((str(k), v) for k, v in caps.items() if isinstance(v, bool))
    return ModelEntry(id=model_id, alias=alias, context_window=window, capabilities=capabilities, tags=tuple(tags))


def _parse_timeouts(raw: object, path: str, errs: Errors) -> Timeouts:
    doc = section(raw, path, errs)
    check_keys(doc, {"connect_s", "first_byte_s", "idle_s"}, path, errs)
    d = Timeouts()
    return Timeouts(
        connect_s=number(doc, "connect_s", d.connect_s, path, errs, lo=0.01),
        first_byte_s=number(doc, "first_byte_s", d.first_byte_s, path, errs, lo=0.01),
        idle_s=number(doc, "idle_s", d.idle_s, path, errs, lo=0.01),
    )


def _check_uniqueness(providers: list[Provider], errs: Errors) -> None:
    seen_names: set[str] = set()
    aliases: dict[str, str] = {}
    for i, p in enumerate(providers):
        if p.name in seen_names:
            errs.add(f"providers[{i}].name", f"{p.name!r} is used by an earlier provider; names must be unique")
        seen_names.add(p.name)
        for j, m in enumerate(p.models):
            if m.alias is None:
                continue
            if m.alias in aliases:
                errs.add(
                    f"providers[{i}].models[{j}].alias",
                    f"{m.alias!r} is already an alias in {aliases[m.alias]}",
                )
            aliases[m.alias] = p.name
