"""The ``providers`` section: each entry checked and built into a :class:`Provider` (pure).

A provider's defaults come from the known service its base URL points at
(:mod:`proxyd.config.services`); every key the entry sets wins over them. The base URL is cleaned of
pasted endpoint suffixes, gets the service's API path when it was given bare, and may be plain
``http://`` only toward local and private hosts unless ``allow_insecure_http: true``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from proxyd.config.keys import CTRL_RE, PROVIDER_KEY, Env, ReadFile, env_refs, expand_env, parse_secret
from proxyd.config.local import LOCAL_KEYS, parse_local_server
from proxyd.config.services import (
    ANTHROPIC_COMPATIBLE,
    GENERIC,
    Service,
    anthropic_hint,
    complete_base_url,
    detect,
    plain_http_problem,
)
from proxyd.config.settings import (
    CAPABILITIES,
    EFFORTS,
    WIRE_SETTINGS,
    Compat,
    LocalServer,
    ModelEntry,
    Provider,
    Timeouts,
    Tls,
    ToolCalls,
)
from proxyd.config.spend import parse_budget, parse_price
from proxyd.config.yaml_fields import Errors, check_keys, mapping, number, section
from proxyd.diagnosis import Diagnosis

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PASTED_SUFFIXES = ("/chat/completions", "/responses", "/messages")
# Headers proxyd owns on the upstream request; a provider may not set them.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-encoding"})
_PROVIDER_KEYS = {
    "name", "base_url", "api_key", "api_key_file", "credential", "wire", "default_model", "headers", "models",
    "streaming", "timeouts", "auth", "tls", "allow_insecure_http", "compat", "add_api_path", "list_discovered",
    "tool_calls", "price", "budget", "prompt_cache", *LOCAL_KEYS,
}  # fmt: skip
_COMPAT_CHOICES: dict[str, tuple[str, ...]] = {
    "developer_role": ("developer", "system"),
    "content": ("parts", "string", "user-parts"),
    "max_tokens_field": ("keep", "max_tokens", "max_completion_tokens"),
    "reasoning": ("openai", "openrouter", "none"),
    "tool_call_ids": ("keep", "alnum9"),
    "cache_control": ("keep", "drop"),
    "prompt_cache_key": ("keep", "drop"),
}
# The key's header of a wire whose API names its own, for a provider set to it by hand.
_WIRE_AUTH = {"anthropic": "x-api-key", "gemini": "x-goog-api-key"}
_AUTHS = ("bearer", "api-key", "x-api-key", "x-goog-api-key", "none")


def normalize_base_url(url: str) -> str:
    """Strip whitespace, trailing slashes and a pasted endpoint suffix."""
    url = url.strip().rstrip("/")
    for suffix in _PASTED_SUFFIXES:
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
    return url


def parse_providers(raw: object, env: Env, read_file: ReadFile, errs: Errors) -> list[Provider]:
    if raw is None or raw == []:
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
    return out


def _parse_provider(raw: object, path: str, env: Env, read_file: ReadFile, errs: Errors) -> Provider | None:
    doc = mapping(raw, path, errs)
    if doc is None:
        return None
    check_keys(doc, _PROVIDER_KEYS, path, errs)
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        errs.add(f"{path}.name", "required: letters, digits, '.', '_' or '-' (no '/'), e.g. name: ollama")
        name = f"<{path}>"
    given = _parse_base_url(doc.get("base_url"), f"{path}.base_url", env, errs)
    service = detect(given) if given else None
    raw_url = doc.get("base_url")
    if isinstance(raw_url, str) and anthropic_hint(raw_url) and (service is None or service.wire != "anthropic"):
        service = ANTHROPIC_COMPATIBLE
    add = _flag(doc, "add_api_path", True, path, errs)  # false: a bare host is the API root
    base_url, added = complete_base_url(given, service if add else None)
    known = service or GENERIC
    insecure = _flag(doc, "allow_insecure_http", False, path, errs)
    written = raw_url if isinstance(raw_url, str) and env_refs(raw_url) else None
    problem = plain_http_problem(base_url, written) if base_url and not insecure else None
    if problem is not None:
        errs.add(f"{path}.base_url", problem)
    api_key, key_source, disabled = _key(doc, path, env, read_file, errs)
    return Provider(
        name=name,
        base_url=base_url,
        api_key=api_key,
        key_source=key_source,
        wire=(wire := _choice(doc, "wire", known.wire, WIRE_SETTINGS, path, errs)),
        default_model=_default_model(doc, path, errs),
        headers=_parse_headers(doc.get("headers"), f"{path}.headers", env, errs),
        models=(models := _parse_models(doc.get("models"), f"{path}.models", base_url, env, errs)),
        list_discovered=_flag(doc, "list_discovered", False, path, errs),
        streaming=_flag(doc, "streaming", True, path, errs),
        disabled=disabled,
        timeouts=_parse_timeouts(doc.get("timeouts"), f"{path}.timeouts", errs),
        service=service.name if service else None,
        base_url_added=added,
        auth=_choice(
            doc,
            "auth",
            _WIRE_AUTH.get(wire, known.auth) if wire != known.wire else known.auth,
            _AUTHS,
            path,
            errs,
        ),
        tls=_parse_tls(doc.get("tls"), f"{path}.tls", read_file, errs),
        allow_insecure_http=insecure,
        compat=_parse_compat(doc.get("compat"), f"{path}.compat", known, errs),
        tool_calls=_parse_tool_calls(doc.get("tool_calls"), f"{path}.tool_calls", errs) or ToolCalls(),
        price=parse_price(doc.get("price"), f"{path}.price", errs),
        budget=parse_budget(doc.get("budget"), f"{path}.budget", errs),
        prompt_cache=_choice(doc, "prompt_cache", "auto", ("auto", "off"), path, errs),
        local=_provider_server(doc, base_url, models, path, env, errs),
    )


def _provider_server(
    doc: dict[str, Any], base_url: str, models: tuple[ModelEntry, ...], path: str, env: Env, errs: Errors
) -> LocalServer | None:
    local = parse_local_server(doc, base_url, path, env, errs)
    if local is not None and any(m.local is not None for m in models):
        errs.add(f"{path}.command", "runs one server for all of this provider's models, and some of its models have "
                                    "a command of their own: keep one or the other")  # fmt: skip
    return local


def _flag(doc: dict[str, Any], key: str, default: bool, path: str, errs: Errors) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        errs.add(f"{path}.{key}", "must be true or false")
        return default
    return value


def _choice(doc: dict[str, Any], key: str, default: str, choices: tuple[str, ...], path: str, errs: Errors) -> Any:
    value = doc.get(key, default)
    if value not in choices:
        errs.add(f"{path}.{key}", f"must be one of {', '.join(choices)} (got {value!r})")
        return default
    return value


def _default_model(doc: dict[str, Any], path: str, errs: Errors) -> str | None:
    value = doc.get("default_model")
    if value is not None and (not isinstance(value, str) or not value):
        errs.add(f"{path}.default_model", "must be a model id (a string)")
        return None
    return value


def _key(
    doc: dict[str, Any], path: str, env: Env, read_file: ReadFile, errs: Errors
) -> tuple[str | None, str, Diagnosis | None]:
    """The key, where it comes from, and why the provider is disabled: an ``api_key`` naming a
    variable that is not set disables this provider alone (the rest of the config still loads)."""
    raw = doc.get("api_key")
    alone = doc.get("api_key_file") is None and doc.get("credential") is None
    unset = expand_env(raw, env)[1] if isinstance(raw, str) and alone else []
    if not unset:
        return (*parse_secret(doc, path, PROVIDER_KEY, env, read_file, errs), None)
    names = ", ".join(unset)
    code = "key_env_unset" if len(unset) == 1 else "keys_env_unset"
    return None, f"env {names} (not set)", Diagnosis(code, {"names": names, "first": unset[0]}, "key_env_unset")


def _parse_base_url(raw: object, path: str, env: Env, errs: Errors) -> str:
    if not isinstance(raw, str) or not raw.strip():
        errs.add(path, "required: the provider's OpenAI-compatible URL, e.g. http://127.0.0.1:11434/v1")
        return ""
    value, missing = expand_env(raw, env)
    for var in missing:
        errs.add(path, f"environment variable {var} is not set")
    url = normalize_base_url(value)
    if missing:
        return ""
    shown = raw if env_refs(raw) else url  # a message quotes a value as written, never a variable's value
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        errs.add(path, f"must start with http:// or https:// (got {shown!r})")
    elif not parts.hostname:
        errs.add(path, f"has no host (got {shown!r})")
    elif parts.username or parts.password:
        errs.add(path, "must not hold credentials: put the key in api_key, api_key_file or headers")
    elif parts.query or parts.fragment:
        errs.add(path, "must not have a query string or fragment")
    else:
        return url
    return ""


def _parse_tls(raw: object, path: str, read_file: ReadFile, errs: Errors) -> Tls:
    doc = section(raw, path, errs)
    check_keys(doc, {"ca_file", "verify"}, path, errs)
    verify = _flag(doc, "verify", True, path, errs)
    ca_file = doc.get("ca_file")
    if ca_file is None:
        return Tls(verify=verify)
    if not isinstance(ca_file, str) or not ca_file:
        errs.add(f"{path}.ca_file", "must be the path of a PEM file of CA certificates")
        return Tls(verify=verify)
    try:
        pem = read_file(ca_file)
    except OSError as exc:
        errs.add(f"{path}.ca_file", f"cannot read {ca_file}: {exc.strerror or exc}")
        return Tls(verify=verify)
    if "-----BEGIN CERTIFICATE-----" not in pem:
        errs.add(f"{path}.ca_file", f"{ca_file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        return Tls(verify=verify)
    return Tls(ca_file=ca_file, ca_pem=pem, verify=verify)


def _parse_compat(raw: object, path: str, service: Service, errs: Errors) -> Compat:
    doc = section(raw, path, errs)
    check_keys(doc, set(_COMPAT_CHOICES), path, errs)
    defaults = {
        "developer_role": "developer" if service.developer_role else "system",
        "content": service.content,
        "max_tokens_field": service.max_tokens_field,
        "reasoning": service.reasoning,
        "tool_call_ids": service.tool_call_ids,
        "cache_control": service.cache_control,
        "prompt_cache_key": service.prompt_cache_key,
    }
    return Compat(
        **{key: _choice(doc, key, defaults[key], choices, path, errs) for key, choices in _COMPAT_CHOICES.items()}
    )


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


def _parse_models(raw: object, path: str, base_url: str, env: Env, errs: Errors) -> tuple[ModelEntry, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errs.add(path, "must be a list of models, e.g. - {id: llama3.2, alias: fast}")
        return ()
    out = []
    for i, item in enumerate(raw):
        entry = _parse_model(item, f"{path}[{i}]", base_url, env, errs)
        if entry is not None:
            out.append(entry)
    return tuple(out)


_MODEL_KEYS = {"id", "alias", "context_window", "max_output_tokens", "capabilities", "tags", "reasoning_effort",
               "tool_calls", "price", *LOCAL_KEYS}  # fmt: skip


def _parse_model(raw: object, path: str, base_url: str, env: Env, errs: Errors) -> ModelEntry | None:
    if isinstance(raw, str):
        return ModelEntry(id=raw)
    doc = mapping(raw, path, errs)
    if doc is None:
        return None
    check_keys(doc, _MODEL_KEYS, path, errs)
    model_id, alias = doc.get("id"), doc.get("alias")
    if not isinstance(model_id, str) or not model_id:
        errs.add(f"{path}.id", "required: the model id the provider knows")
        return None
    if alias is not None and (not isinstance(alias, str) or not alias):
        errs.add(f"{path}.alias", "must be a non-empty string")
        alias = None
    effort = doc.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        errs.add(f"{path}.reasoning_effort", f"must be one of {', '.join(EFFORTS)} (got {effort!r})")
        effort = None
    return ModelEntry(
        id=model_id,
        alias=alias,
        context_window=_tokens(doc, "context_window", path, errs),
        max_output_tokens=_tokens(doc, "max_output_tokens", path, errs),
        capabilities=_capabilities(doc.get("capabilities"), f"{path}.capabilities", errs),
        tags=_tags(doc.get("tags"), f"{path}.tags", errs),
        reasoning_effort=effort,
        tool_calls=_parse_tool_calls(doc.get("tool_calls"), f"{path}.tool_calls", errs),
        price=parse_price(doc.get("price"), f"{path}.price", errs),
        local=parse_local_server(doc, base_url, path, env, errs),  # its own server, on the provider's port
    )


def _parse_tool_calls(raw: object, path: str, errs: Errors) -> ToolCalls | None:
    if raw is None:
        return None
    doc = section(raw, path, errs)
    check_keys(doc, {"repair"}, path, errs)
    return ToolCalls(repair=_flag(doc, "repair", False, path, errs))


def _tokens(doc: dict[str, Any], key: str, path: str, errs: Errors) -> int | None:
    value = doc.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        errs.add(f"{path}.{key}", "must be a positive whole number of tokens")
        return None
    return value


def _capabilities(raw: object, path: str, errs: Errors) -> tuple[tuple[str, bool], ...]:
    doc = section(raw, path, errs)
    out = []
    for cap, flag in doc.items():
        if cap not in CAPABILITIES:
            errs.add(f"{path}.{cap}", f"is not a capability proxyd knows ({', '.join(CAPABILITIES)})")
        elif not isinstance(flag, bool):
            errs.add(f"{path}.{cap}", "must be true or false")
        else:
            out.append((str(cap), flag))
    return tuple(out)


def _tags(raw: object, path: str, errs: Errors) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
        errs.add(path, "must be a list of words, e.g. [main, free] (sandbox, free, main, heavy, unknown)")
        return ()
    return tuple(raw)


def _parse_timeouts(raw: object, path: str, errs: Errors) -> Timeouts:
    doc = section(raw, path, errs)
    check_keys(doc, {"connect_s", "first_byte_s", "idle_s"}, path, errs)
    d = Timeouts()
    return Timeouts(
        connect_s=number(doc, "connect_s", d.connect_s, path, errs, lo=0.01),
        first_byte_s=number(doc, "first_byte_s", d.first_byte_s, path, errs, lo=0.01),
        idle_s=number(doc, "idle_s", d.idle_s, path, errs, lo=0.01),
    )


def notices(provider: Provider) -> list[tuple[str, str]]:
    """What a user should hear about a provider at start and on reload: (level, message)."""
    out = []
    if provider.base_url_added:
        out.append(("info", f"base_url had no path: added {provider.base_url_added} ({provider.service}'s API); "
                            "add_api_path: false uses it as given"))  # fmt: skip
    if not provider.tls.verify:
        out.append(("warning", "tls.verify is false: the provider's certificate is NOT checked, so anyone on the "
                               "network path can read the key and every prompt; prefer tls.ca_file"))  # fmt: skip
    if provider.allow_insecure_http and provider.base_url.startswith("http://"):
        out.append(("warning", "allow_insecure_http: the key and prompts travel unencrypted"))
    if provider.auth == "none" and provider.api_key:
        out.append(("warning", f"auth is none, so the key ({provider.key_source}) is never sent; "
                               "drop the key, or set auth: bearer (or api-key) to send it"))  # fmt: skip
    return out
