"""Which provider gets a request, and what path and model it is sent upstream with (pure).

Two steps, both pure. :func:`parse_target` reads the raw request target (never the decoded
one, which hides ``%2e%2e`` and ``%2F``) and refuses what must not be forwarded.
:meth:`Router.route` applies these rules in order (docs/configuration.md, "Which provider gets a request"):

1. ``/providers/{name}/v1/...`` pins the provider; the model passes as sent (its own aliases resolve).
2. A model ``"{provider}/{rest}"`` whose prefix names a provider goes there and sends ``rest``.
3. A model group's alias (or pattern), else an alias from a provider's ``models`` list, else a
   model id listed in a provider's catalog, else an alias pattern (``alias: "claude-*haiku*"``),
   in config order. A group routes to its first target; :mod:`proxyd.attempts` takes it from there.
4. Else ``default_provider``; a missing model becomes that provider's ``default_model``.
5. Else 404, naming the configured providers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from proxyd.config.settings import Config, Group, GroupTarget, ModelEntry, Provider
from proxyd.errors import ProxyError, bad_request
from proxyd.listing import merged

_PINNED_RE = re.compile(r"^/providers/([^/]+)(/v1(?:beta)?(?:/.*)?)$")
# Gemini's API names the model and the method in the path: /v1beta/models/{model}:generateContent
_GEMINI_RE = re.compile(r"^/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
_GEMINI_ENDPOINTS = {"generateContent": "gemini.generate", "streamGenerateContent": "gemini.generate",
                     "countTokens": "gemini.count_tokens"}  # fmt: skip
_SEGMENT_SPLIT_RE = re.compile(r"[/\\]")
# Endpoint names are metric and log labels: a fixed set, never raw client input.
_ENDPOINTS = {
    "/chat/completions": "chat.completions",
    "/responses": "responses",
    "/completions": "completions",
    "/embeddings": "embeddings",
    "/models": "models",
    "/messages": "messages",
    "/messages/count_tokens": "messages.count_tokens",
}


@dataclass(frozen=True)
class Target:
    """A request target under ``/v1``: ``rest`` is the raw path after ``/v1`` (``/chat/completions``)."""

    rest: str
    query: str
    pinned: str | None = None
    # "gemini": Google's Gemini API, under /v1beta (or /v1, where the google-genai SDK sends a
    # method call such as /v1/models/{model}:generateContent): its paths, its key, its errors
    api: str = "v1"

    @property
    def endpoint(self) -> str:
        if self.api == "gemini":
            m = _GEMINI_RE.match(self.rest)
            if m:
                return _GEMINI_ENDPOINTS[m.group(2)]
            return "gemini.models" if self.rest == "/models" or self.rest.startswith("/models/") else "other"
        exact = _ENDPOINTS.get(self.rest)
        if exact is not None:
            return exact
        if self.rest.startswith("/models/"):
            return "models"
        return "responses.item" if self.rest.startswith("/responses/") else "other"


def gemini_call(target: Target) -> tuple[str, bool] | None:
    """The model a Gemini path names (without ``models/``) and whether it streams, or None."""
    m = _GEMINI_RE.match(target.rest) if target.api == "gemini" else None
    return (unquote(m.group(1)), m.group(2) == "streamGenerateContent") if m else None


@dataclass(frozen=True)
class Route:
    provider: Provider
    model: str | None  # what goes upstream
    rewritten: bool  # the body's model must be replaced with ``model``
    entry: ModelEntry | None = None  # what config and the provider's listing say of ``model``
    group: Group | None = None  # a model group: ``provider``/``model`` are its first target


def parse_target(raw_target: str) -> Target | None:
    """Parse a raw request target; ``None`` when it is not an API path proxyd forwards."""
    if not raw_target.startswith("/") or raw_target.startswith("//"):
        raise bad_request(
            "absolute-form request targets are refused: proxyd is not a forward proxy; "
            "send the path only, e.g. POST /v1/chat/completions",
            code="invalid_target",
        )
    path, _, query = raw_target.partition("?")
    query = _without_key(query)  # a client may send proxyd's token as ?key= (Gemini's clients do)
    if _has_dot_segment(path):
        raise bad_request("paths with '.' or '..' segments are refused", code="invalid_path")
    pinned = None
    if path.startswith("/providers/"):  # /providers/{name}/v1/...: the provider pinned
        m = _PINNED_RE.match(path)
        if m is None:
            return None
        pinned, path = unquote(m.group(1)), m.group(2)
    if path == "/v1beta" or path.startswith("/v1beta/"):
        return Target(rest=path[7:], query=query, pinned=pinned, api="gemini")
    if path == "/v1" or path.startswith("/v1/"):
        rest = path[3:]
        if ":" in rest and _GEMINI_RE.match(rest):  # a Gemini method call: no OpenAI path has a colon
            return Target(rest=rest, query=query, pinned=pinned, api="gemini")
        return Target(rest=rest, query=query, pinned=pinned)
    return None


def _without_key(query: str) -> str:
    """A client's query without its ``key=``: that is proxyd's token, on any path, and never goes on."""
    if "key=" not in query:
        return query
    return "&".join(p for p in query.split("&") if not p.startswith("key="))


def _has_dot_segment(path: str) -> bool:
    if "." not in path and "%" not in path:
        return False  # the usual path, at the cost of two scans
    # Decode repeatedly: an upstream or a proxy in front of it may decode again.
    for _ in range(3):
        if any(seg in (".", "..") for seg in _SEGMENT_SPLIT_RE.split(path)):
            return True
        decoded = unquote(path)
        if decoded == path:
            return False
        path = decoded
    return True  # still encoded after three rounds: nobody sends that honestly


class Router:
    """Routing tables built once per config; :meth:`route` is a few dict look-ups."""

    def __init__(self, config: Config, discovered: Mapping[str, tuple[ModelEntry, ...]] | None = None) -> None:
        """``discovered``: the models each provider's ``GET /models`` listed (after configured ones)."""
        self.config = config
        self.discovered = dict(discovered or {})
        self._by_name = {p.name: p for p in config.providers}
        self._aliases: dict[str, tuple[Provider, str]] = {}
        self._ids: dict[str, Provider] = {}
        # Every model a provider has, as config declares it with the listing's gaps filled in.
        self._entries: dict[tuple[str, str], ModelEntry] = {}
        self._patterns: list[tuple[re.Pattern[str], Provider, str]] = []  # aliases with * or ?
        for p in config.providers:
            for m in p.models:
                if m.alias and _is_pattern(m.alias):
                    self._patterns.append((_glob(m.alias), p, m.id))
                elif m.alias:
                    self._aliases.setdefault(m.alias, (p, m.id))
                self._ids.setdefault(m.id, p)
        for p in config.providers:
            listed = {m.id: m for m in self.discovered.get(p.name, ())}
            for m in p.models:
                self._entries[(p.name, m.id)] = merged(m, listed.get(m.id))
            for model_id, m in listed.items():
                self._ids.setdefault(model_id, p)
                self._entries.setdefault((p.name, model_id), m)
        self._default = self._by_name.get(config.default_provider or "")
        self._groups = {g.alias: g for g in config.groups if not _is_pattern(g.alias)}
        self._target_routes: dict[tuple[str, str], Route] = {}
        self._group_patterns = [(_glob(g.alias), g) for g in config.groups if _is_pattern(g.alias)]

    def known(self, provider: str, model: str | None) -> bool:
        """Is ``model`` in the provider's catalog (configured or discovered)? Bounds metric labels."""
        return model is not None and (provider, model) in self._entries

    def model(self, provider: str, model: str) -> ModelEntry | None:
        """The model as config declares it, gaps filled from the provider's listing."""
        return self._entries.get((provider, model))

    def provider(self, name: str) -> Provider | None:
        return self._by_name.get(name)

    def route(self, model: str | None, pinned: str | None = None) -> Route:
        model = model or None
        if pinned is not None:
            provider = self._by_name.get(pinned)
            if provider is None:
                raise self._not_found(f"unknown provider {pinned!r} in the path /providers/{pinned}/...")
            return self._within(provider, model)
        if model is not None:
            prefix, slash, rest = model.partition("/")
            if slash and rest and prefix in self._by_name:
                return self._within(self._by_name[prefix], rest, rewritten=True)
            group = self._groups.get(model)
            if group is None and self._group_patterns:  # no generator per request unless patterns exist
                group = next((g for p, g in self._group_patterns if p.fullmatch(model)), None)
            if group is not None:
                return self.to_target(group.targets[0], group)
            if model in self._aliases:
                provider, model_id = self._aliases[model]
                return self._to(provider, model_id, rewritten=True)
            if model in self._ids:
                return self._to(self._ids[model], model, rewritten=False)
            for pattern, provider, model_id in self._patterns:  # e.g. "claude-*haiku*" for Claude Code's ids
                if pattern.fullmatch(model):
                    return self._to(provider, model_id, rewritten=True)
        if self._default is not None:
            return self._within(self._default, model)
        if model is None:
            raise self._not_found("the request names no model and no default_provider is configured")
        raise self._not_found(f"no provider serves model {model!r}")

    def _within(self, provider: Provider, model: str | None, *, rewritten: bool = False) -> Route:
        if model is None:
            return self._to(provider, provider.default_model, rewritten=provider.default_model is not None)
        for m in provider.models:
            if m.alias == model:
                return self._to(provider, m.id, rewritten=True)
        return self._to(provider, model, rewritten=rewritten)

    def to_target(self, target: GroupTarget, group: Group) -> Route:
        """The route to one target of a model group (made once per routing table)."""
        route = self._target_routes.get((group.alias, target.key))
        if route is None:
            provider = self._by_name[target.provider]  # config checks guarantee it
            entry = self._entries.get((provider.name, target.model))
            route = self._target_routes[(group.alias, target.key)] = Route(provider, target.model, True, entry, group)
        return route

    def _to(self, provider: Provider, model: str | None, *, rewritten: bool) -> Route:
        entry = self._entries.get((provider.name, model)) if model is not None else None
        return Route(provider, model, rewritten, entry)

    def _not_found(self, what: str) -> ProxyError:
        names = ", ".join(self._by_name) or "(none)"
        aliases = ", ".join(self._aliases)
        hint = f"; or an alias: {aliases}" if aliases else ""
        return ProxyError(
            404,
            f"{what}. Use a model of the form provider/model with one of the configured providers: "
            f"{names}{hint}. GET /v1/models lists every known model.",
            code="model_not_found",
            param="model",
        )


def _is_pattern(alias: str) -> bool:
    return "*" in alias or "?" in alias


def _glob(pattern: str) -> re.Pattern[str]:
    """An alias pattern: ``*`` is any run of characters, ``?`` one character, the rest literal."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))
