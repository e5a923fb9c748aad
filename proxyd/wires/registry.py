"""The wire adapters by name and by client endpoint, and a stream from one wire to another (pure)."""

from __future__ import annotations

import re
from typing import Any, Protocol

from proxyd.config.settings import ModelEntry, Provider
from proxyd.errors import ProxyError
from proxyd.stream_end import StreamCheck
from proxyd.usage import Usage
from proxyd.wires.anthropic import ANTHROPIC
from proxyd.wires.chat import CHAT
from proxyd.wires.errors import TranslationError
from proxyd.wires.gemini import GEMINI
from proxyd.wires.pivot import Item
from proxyd.wires.responses import RESPONSES
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]
__all__ = ["FALLBACK_ORDER", "WIRES", "TranslationError", "Wire", "client_wire", "counting_wire", "stream_wire"]


class Decoder(Protocol):
    """A provider's stream bytes, on its wire, as pivot items."""

    @property
    def usage(self) -> object: ...
    def feed(self, chunk: bytes) -> list[Item]: ...
    def events(self, datas: list[str]) -> list[Item]: ...
    def flush(self) -> list[Item]: ...


class Encoder(Protocol):
    """Pivot items as a client's stream bytes, on its wire."""

    @property
    def ended(self) -> bool: ...
    @property
    def usage(self) -> object: ...
    @property
    def answer(self) -> Body | None: ...
    def start(self) -> bytes: ...
    def feed(self, items: list[Item]) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, message: str, code: str = ...) -> bytes: ...


class Wire(Protocol):
    """What an adapter offers; :mod:`proxyd.wires.chat` and :mod:`proxyd.wires.responses` are two."""

    name: str
    path: str  # where a provider serves it, after base_url
    endpoints: tuple[str, ...]  # the client endpoints that speak it (the first takes requests)
    answer_key: str  # what a whole answer must hold, and what it is called in errors
    answer_kind: str
    stateful: bool  # turns are stored and continued by id (previous_response_id)
    errors: str  # the family of its error bodies: a relayed error crosses unchanged within one
    default_headers: tuple[tuple[str, str], ...]  # sent to its providers unless the request or config has them
    fallback: int | None  # its place in the order a wire: auto provider is tried in (None: never)
    ubiquitous: bool  # every server that has it answers it truly: a 200 on it is not a disguised refusal
    elsewhere: str | None  # the wire a server's error on this one may send the request to
    first_token: re.Pattern[bytes]  # bytes of its stream that mark generated output (time to first token)
    breakpoints: bool  # takes Anthropic-style cache_control on its blocks natively
    model_in_path: bool  # names the model (and streaming) in the path, not the body (Gemini)

    def upstream(self, body: Body, model: str) -> tuple[str, str, Body]:
        """Where a request goes after base_url, its query, and the body sent there."""
        ...

    def fit(self, body: Body, provider: Provider, model: ModelEntry | None) -> tuple[Body | None, list[str]]:
        """The body fitted to the provider's compat settings and the model (None: unchanged), and notes."""
        ...

    def usage(self, value: object) -> Usage | None:
        """Its answer's ``usage`` object as token counts."""
        ...

    def prime_cache(self, body: Body) -> Body | None:
        """A request translated to this wire with cache breakpoints placed where they pay, or None."""
        ...

    def to_pivot(self, body: Body) -> Pivoted: ...
    def offered_tools(self, body: Body) -> Pivoted:
        """Just the request's tools, in the pivot's form (``body["tools"]``) with their names."""
        ...

    def from_pivot(self, body: Body) -> Body: ...
    def whole(self, body: Body) -> Body: ...
    def wants_usage(self, body: Body) -> bool: ...
    def answer_to_pivot(self, answer: Body, turn: Turn) -> Body: ...
    def answer_from_pivot(self, completion: Body, turn: Turn) -> Body: ...
    def decoder(self, turn: Turn) -> Decoder: ...
    def encoder(self, turn: Turn) -> Encoder: ...
    def replay(self, answer: Body, include_usage: bool) -> bytes: ...
    def check(self) -> StreamCheck: ...
    def error_body(self, error: ProxyError) -> Body: ...
    def probe_body(self, model: str) -> Body: ...


class Counter(Protocol):
    """A wire with a token-counting endpoint."""

    name: str
    count_endpoint: str

    def count_tokens(self, body: Body) -> int: ...
    def prompt_text(self, body: Body) -> str: ...
    def count_path(self, model: str) -> str | None:
        """Where a provider on this wire counts for ``model`` (None: the client's own path)."""
        ...

    def count_answer(self, tokens: int) -> Body:
        """A count as this wire's answer."""
        ...


class Lister(Protocol):
    """A wire with its own shape for proxyd's model catalog (Gemini's ``models.list``)."""

    list_endpoint: str

    def listing(self, objects: list[Body], page_size: str | None, page_token: str | None) -> Body: ...
    def listed(self, model: Body) -> Body: ...


WIRES: dict[str, Wire] = {wire.name: wire for wire in (CHAT, RESPONSES, ANTHROPIC, GEMINI)}
_BY_ENDPOINT: dict[str, Wire] = {wire.endpoints[0]: wire for wire in WIRES.values()}
_COUNTERS: dict[str, Counter] = {w.count_endpoint: w for w in (ANTHROPIC, GEMINI)}
_STREAMS: dict[str, Wire] = {endpoint: wire for wire in WIRES.values() for endpoint in wire.endpoints}
_LISTERS: dict[str, Lister] = {w.list_endpoint: w for w in (GEMINI,)}
_ANY_ENDPOINT: dict[str, Wire] = {**_STREAMS, **{w.count_endpoint: w for w in (ANTHROPIC, GEMINI)}}


# The order a wire: auto provider is tried in, after the client's own wire.
FALLBACK_ORDER: tuple[str, ...] = tuple(
    w.name for w in sorted(WIRES.values(), key=lambda w: w.fallback or 0) if w.fallback is not None
)


def client_wire(endpoint: str) -> Wire | None:
    """The wire of a client endpoint that takes requests proxyd can translate (POST bodies)."""
    return _BY_ENDPOINT.get(endpoint)


def counting_wire(endpoint: str) -> Counter | None:
    """The wire whose token-counting endpoint this is (Anthropic's ``count_tokens``)."""
    return _COUNTERS.get(endpoint)


def listing_wire(endpoint: str) -> Lister | None:
    """The wire whose catalog endpoint this is, when it has a shape of its own (else OpenAI's)."""
    return _LISTERS.get(endpoint)


def endpoint_wire(endpoint: str) -> Wire | None:
    """The wire any of whose endpoints this is (``messages.count_tokens`` is Anthropic's): whose
    error shape a client of it reads."""
    return _ANY_ENDPOINT.get(endpoint)


def stream_wire(endpoint: str) -> Wire | None:
    """The wire whose stream rules an endpoint's streams follow, if proxyd knows them."""
    return _STREAMS.get(endpoint)
