"""Configuration: frozen dataclasses and ``parse_config``, which checks a whole YAML document (pure).

Parsing is pure. The environment and the reading of ``api_key_file`` are handed in, so every
rule here is tested with plain tables; :mod:`proxyd.config.loader` does the file I/O. Every problem is
collected with its YAML path (``providers[1].base_url: ...``) so a user fixes them all in one go.
Secrets never enter a message: errors name the variable or file a key came from, never the key.
"""

from __future__ import annotations

__all__ = [
    "WIRE_SETTINGS",
    "Access",
    "Compat",
    "Config",
    "ConfigError",
    "Health",
    "Keepalive",
    "Listen",
    "MiB",
    "ModelEntry",
    "Provider",
    "Store",
    "Timeouts",
    "Tls",
    "WireSetting",
    "expand_env",
    "normalize_base_url",
    "parse_config",
]  # fmt: skip

import ipaddress
from typing import Any

from proxyd.access import exposure_problem, origin_problem
from proxyd.config.clients import check_clients, parse_tokens
from proxyd.config.groups import parse_failover, parse_groups
from proxyd.config.keys import LISTEN_TOKEN, STORE_URL, Env, ReadFile, expand_env, parse_secret
from proxyd.config.local import parse_local
from proxyd.config.providers import normalize_base_url, parse_providers
from proxyd.config.settings import (
    WIRE_SETTINGS,
    Access,
    Compat,
    Config,
    ConfigError,
    Health,
    Keepalive,
    Listen,
    LocalLimits,
    MiB,
    ModelEntry,
    Provider,
    Store,
    Timeouts,
    Tls,
    WireSetting,
)
from proxyd.config.spend import parse_allowance, parse_ledger
from proxyd.config.yaml_fields import Errors, check_keys, integer, number, section
from proxyd.store.where import url_problem


def parse_config(raw: object, *, env: Env, read_file: ReadFile) -> Config:
    """Check a parsed YAML document and build a :class:`Config`, or raise :class:`ConfigError`."""
    errs = Errors()
    doc = section(raw, "(top level)", errs)
    top = {"listen", "default_provider", "providers", "tcp_keepalive", "store", "health", "shutdown_grace_s",
           "shutdown_delay_s", "failover", "groups", "ledger", "local"}  # fmt: skip
    check_keys(doc, top, "", errs)
    listen = _parse_listen(doc.get("listen"), env, read_file, errs)
    keepalive = _parse_keepalive(doc.get("tcp_keepalive"), errs)
    providers = parse_providers(doc.get("providers"), env, read_file, errs)
    default = doc.get("default_provider")
    names = [p.name for p in providers]
    if default is not None and not isinstance(default, str):
        errs.add("default_provider", "must be a provider name (a string)")
        default = None
    elif default is not None and providers and default not in names:
        errs.add("default_provider", f"{default!r} is not a configured provider (have: {', '.join(names)})")
    _check_uniqueness(providers, errs)
    groups = parse_groups(doc.get("groups"), providers, parse_failover(doc.get("failover"), "failover", errs), errs)
    store = _parse_store(doc.get("store"), env, read_file, errs)
    health = _parse_health(doc.get("health"), errs)
    ledger = parse_ledger(doc.get("ledger"), errs)
    local = parse_local(doc.get("local"), errs)
    _check_local(providers, local, errs)
    grace = _seconds(doc, "shutdown_grace_s", Config.shutdown_grace_s, errs)
    delay = _seconds(doc, "shutdown_delay_s", Config.shutdown_delay_s, errs)
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
        shutdown_delay_s=delay,
        groups=groups,
        ledger=ledger,
        local=local,
    )


def _seconds(doc: dict[str, Any], key: str, default: float, errs: Errors) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 24 * 3600:
        errs.add(key, "must be a number of seconds from 0 to 86400")
        return default
    return value


# --- sections -------------------------------------------------------------------------------------


_LISTEN_KEYS = {
    "host", "port", "max_body_mb", "header_timeout_s", "body_timeout_s",
    "token", "token_file", "token_credential", "tokens", "allowed_hosts", "allowed_origins", "defaults",
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
    clients = parse_tokens(doc.get("tokens"), env, read_file, errs)
    defaults = section(doc.get("defaults"), "listen.defaults", errs)
    check_keys(defaults, {"budget", "limits"}, "listen.defaults", errs)
    access = Access(token, source, clients=clients, allowed_hosts=hosts, allowed_origins=origins,
                    defaults=parse_allowance(defaults, "listen.defaults", errs))  # fmt: skip
    check_clients(access.tokens, errs)
    if "*" in hosts and not access.tokens:
        errs.add(
            "listen.allowed_hosts",
            '["*"] without a token lets any web page that renames itself to this machine (DNS rebinding) use '
            "proxyd and your API keys: set listen.token or listen.tokens, or list the host names instead of *",
        )
    return access


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


def _parse_store(raw: object, env: Env, read_file: ReadFile, errs: Errors) -> Store:
    doc = section(raw, "store", errs)
    check_keys(doc, {"enabled", "path", "url", "url_file", "url_credential", "max_age_days", "max_mb"}, "store", errs)
    d = Store()
    enabled, path = doc.get("enabled", True), doc.get("path")
    if not isinstance(enabled, bool):
        errs.add("store.enabled", "must be true or false")
        enabled = True
    if path is not None and (not isinstance(path, str) or not path):
        errs.add("store.path", "must be a file path")
        path = None
    url, url_source = parse_secret(doc, "store", STORE_URL, env, read_file, errs)
    problem = url_problem(url) if url else None
    if problem is not None:
        errs.add("store.url", problem)
    if url and path:
        errs.add("store", "set store.path (a SQLite file on this machine) or store.url (a shared store), not both")
    return Store(
        enabled=enabled,
        path=path,
        url=url,
        url_source=url_source,
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


def _check_local(providers: list[Provider], limits: LocalLimits, errs: Errors) -> None:
    """A server that could never start: larger than all the memory local servers may take."""
    for i, p in enumerate(providers):
        if p.local is not None and limits.memory is not None and p.local.memory > limits.memory:
            errs.add(f"providers[{i}].memory", f"is {p.local.memory / 2**30:.3g} GiB, more than local.memory "
                                               f"({limits.memory / 2**30:.3g} GiB): it could never start")  # fmt: skip
