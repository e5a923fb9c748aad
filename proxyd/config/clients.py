"""Named clients (pure): ``listen.tokens``, a token per person or tool, and the models each may use.

The client's name is what the access line and the ``client`` metrics label show; it comes from
the config (the entry whose token the request sent), never from the request, so the label's
values are bounded by the config. A client limited to some ``models`` may use a model when any of
its names matches one of the patterns (``*`` and ``?``): the name the request sent (a model, an
alias or a group), or ``provider/model`` of where it was routed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import translate
from typing import Any

from proxyd.config.keys import LISTEN_TOKEN, Env, ReadFile, parse_secret
from proxyd.config.settings import ROLES, Client, ClientToken
from proxyd.config.spend import parse_allowance
from proxyd.config.yaml_fields import Errors, check_keys

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_ENTRY_KEYS = {"name", "token", "token_file", "token_credential", "models", "role", "budget", "limits"}


def parse_tokens(raw: object, env: Env, read_file: ReadFile, errs: Errors) -> tuple[ClientToken, ...]:
    """``listen.tokens``: a list of ``{name, token | token_file | token_credential, models?, role?}``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errs.add("listen.tokens", "must be a list of {name, token, models} entries")
        return ()
    out: list[ClientToken] = []
    for i, entry in enumerate(raw):
        parsed = _parse_entry(entry, f"listen.tokens[{i}]", env, read_file, errs)
        if parsed is not None:
            out.append(parsed)
    return tuple(out)


def _parse_entry(raw: object, path: str, env: Env, read_file: ReadFile, errs: Errors) -> ClientToken | None:
    if not isinstance(raw, dict):
        errs.add(path, "must be a mapping such as {name: alice, token_file: /etc/proxyd/alice.token}")
        return None
    check_keys(raw, _ENTRY_KEYS, path, errs)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        errs.add(f"{path}.name", "must be a name such as alice or ci-bot (letters, digits, '_', '.', '@', '-')")
        name = None
    if all(raw.get(key) is None for key in ("token", "token_file", "token_credential")):
        errs.add(path, "needs one of token, token_file or token_credential")
    token, source = parse_secret(raw, path, LISTEN_TOKEN, env, read_file, errs)
    models = _models(raw.get("models"), f"{path}.models", errs)
    role = raw.get("role", "client")
    if role not in ROLES:
        errs.add(
            f"{path}.role",
            f"must be one of {', '.join(ROLES)} (client: the API only; viewer: also reads the page, /status and "
            "/metrics; admin: also changes proxyd)",
        )
        role = "client"
    allowance = parse_allowance(raw, path, errs)
    if name is None or token is None:
        return None
    return ClientToken(Client(name, models, role, allowance), token, source)


def _models(raw: object, path: str, errs: Errors) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(m, str) and m.strip() for m in raw):
        errs.add(path, "must be a non-empty list of model names, aliases or groups (* and ? match any text)")
        return ()
    return tuple(m.strip() for m in raw)


def check_clients(tokens: Iterable[ClientToken], errs: Errors) -> None:
    """Names and tokens are each used once (the single ``listen.token`` counts as ``default``)."""
    names: set[str] = set()
    secrets: set[str] = set()
    for entry in tokens:
        if entry.client.name in names:
            errs.add("listen.tokens", f"the client name {entry.client.name!r} is used twice; names must be unique")
        if entry.token in secrets:
            errs.add("listen.tokens", f"client {entry.client.name!r} has the same token as another; give each its own")
        names.add(entry.client.name)
        secrets.add(entry.token)


class ModelRule:
    """The models one client may use, compiled once per config generation."""

    __slots__ = ("_match", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._match = re.compile("|".join(translate(p) for p in patterns)).match if patterns else None

    def allows(self, names: Iterable[str | None]) -> bool:
        """Whether any of a request's names for its model (sent, or routed to) is allowed."""
        match = self._match
        return match is None or any(name is not None and match(name) is not None for name in names)

    def listed(self, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The catalog's model objects this client may use (``GET /v1/models``)."""
        return models if self._match is None else [m for m in models if self.allows((str(m.get("id")),))]
