"""Where secrets come from: ``${ENV}`` in a value, a file, or a systemd credential (pure).

A provider's key (``api_key``, ``api_key_file``, ``credential``) and proxyd's own token
(``listen.token``, ``token_file``, ``token_credential``) are read the same way. A credential is a
file in ``$CREDENTIALS_DIRECTORY``, which systemd fills from ``LoadCredential=`` and which only
the service can read. Messages name where a secret comes from, never the secret.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from proxyd.config.yaml_fields import Errors

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
CTRL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CREDENTIAL_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

Env = Mapping[str, str]
ReadFile = Callable[[str], str]  # raises OSError with a strerror


@dataclass(frozen=True)
class SecretKeys:
    """The YAML keys that may hold one secret, e.g. ``api_key``, ``api_key_file``, ``credential``."""

    value: str
    file: str
    credential: str


PROVIDER_KEY = SecretKeys("api_key", "api_key_file", "credential")
LISTEN_TOKEN = SecretKeys("token", "token_file", "token_credential")
STORE_URL = SecretKeys("url", "url_file", "url_credential")  # a store's URL may hold its password


ESCAPED = "$${"  # a literal "${", as docker compose writes it: what the page writes for a typed "${"


def escape_env(value: str) -> str:
    """``value`` written so that :func:`expand_env` gives it back as it is."""
    return value.replace("${", ESCAPED)


def env_refs(value: str) -> list[str]:
    """The variables a value names (``${VAR}``), escaped ones left out."""
    return [m.group(1) for part in value.split(ESCAPED) for m in ENV_RE.finditer(part)]


def expand_env(value: str, env: Env) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` and ``${VAR:-default}`` (``$${`` is a literal ``${``); return the value
    and the names left unset."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        got = env.get(name)
        if got:  # like the shell's ":-", an empty variable takes the default
            return got
        if default is not None:
            return default
        if got is None:
            missing.append(name)
        return ""

    return "${".join(ENV_RE.sub(sub, part) for part in value.split(ESCAPED)), missing


def parse_secret(
    doc: dict[str, Any], path: str, keys: SecretKeys, env: Env, read_file: ReadFile, errs: Errors
) -> tuple[str | None, str]:
    """The secret ``doc`` names and where it came from (``"env X"``, ``"file P"``, ``"credential N"``)."""
    given = [k for k in (keys.value, keys.file, keys.credential) if doc.get(k) is not None]
    if len(given) > 1:
        errs.add(path, f"set only one of {', '.join(given)}")
        return None, "none"
    if doc.get(keys.file) is not None:
        return _from_file(doc[keys.file], f"{path}.{keys.file}", read_file, errs)
    if doc.get(keys.credential) is not None:
        return _from_credential(doc[keys.credential], f"{path}.{keys.credential}", env, read_file, errs)
    if doc.get(keys.value) is not None:
        return _from_value(doc[keys.value], f"{path}.{keys.value}", env, errs)
    return None, "none"


def _from_file(name: object, path: str, read_file: ReadFile, errs: Errors) -> tuple[str | None, str]:
    if not isinstance(name, str) or not name:
        errs.add(path, "must be a file path")
        return None, "none"
    return _read(name, f"file {name}", path, read_file, errs)


def _from_credential(name: object, path: str, env: Env, read_file: ReadFile, errs: Errors) -> tuple[str | None, str]:
    if not isinstance(name, str) or not _CREDENTIAL_RE.match(name):
        errs.add(path, "must be a credential name such as openai_key (letters, digits, '_', '.', '-')")
        return None, "none"
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        errs.add(
            path,
            f"$CREDENTIALS_DIRECTORY is not set: systemd sets it for a unit with LoadCredential={name}:/path/to/key; "
            "outside systemd use api_key_file or ${ENV}",
        )
        return None, "none"
    return _read(f"{directory.rstrip('/')}/{name}", f"credential {name}", path, read_file, errs)


def _read(name: str, source: str, path: str, read_file: ReadFile, errs: Errors) -> tuple[str | None, str]:
    try:
        secret = read_file(name).strip()
    except OSError as exc:
        errs.add(path, f"cannot read {name}: {exc.strerror or type(exc).__name__}")
        return None, "none"
    except UnicodeDecodeError:
        errs.add(path, f"{name} is not UTF-8 text")
        return None, "none"
    if not secret:
        errs.add(path, f"{name} is empty")
    elif CTRL_RE.search(secret):
        errs.add(path, f"{name} holds a line break or control character (one key per file)")
        return None, source
    return secret or None, source


def _from_value(literal: object, path: str, env: Env, errs: Errors) -> tuple[str | None, str]:
    if not isinstance(literal, str):
        errs.add(path, "must be a string (quote it in YAML)")
        return None, "none"
    secret, missing = expand_env(literal, env)
    for var in missing:
        errs.add(path, f"environment variable {var} is not set (export it, or use ${{{var}:-default}})")
    refs = env_refs(literal)
    source = f"env {', '.join(refs)}" if refs else "literal"
    if refs and not secret:
        source += " (empty: none sent)"
    if secret and CTRL_RE.search(secret):
        errs.add(path, "contains a line break or control character")
    return (secret or None), source


def env_names(source: str) -> list[str]:
    """The variables of a source such as ``env A, B (empty: none sent)``; none for other kinds."""
    if not source.startswith("env "):
        return []
    return [n.strip() for n in source[len("env ") :].split(" (", 1)[0].split(",") if n.strip()]


def shell_reference(source: str) -> str | None:
    """How a shell gets a secret from where the config takes it (``$OPENROUTER_API_KEY``,
    ``$(cat keys/groq)``), never the secret; None for one written in the config."""
    kind, _, where = source.partition(" ")
    if kind == "env" and (names := env_names(source)):
        return "$" + names[0]
    if kind == "file" and where:
        return f"$(cat {shlex.quote(where)})"
    if kind == "credential" and where:
        return f"$(cat $CREDENTIALS_DIRECTORY/{where})"
    return None
