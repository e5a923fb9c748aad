"""Which path answers a provider's response, decided once when its head arrives (pure).

Everything the way back depends on is known by then: whether the provider spoke the client's
wire or another, whether the client asked for a stream and the provider was asked for a whole
answer instead (``streaming_off``), whether the head says a stream came, whether the request's
tool check repairs calls inside a stream, the status, and, for a ``wire: auto`` provider, what
:data:`proxyd.autowire.MOVES` made of the answer. :func:`plan` reads :data:`RULES` top to
bottom; the first rule that holds names the path, and :mod:`proxyd.answering` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import lru_cache
from typing import NamedTuple


class Path(Enum):
    __hash__ = object.__hash__  # members are singletons: the executor's table looks one up per answer
    NEXT_WIRE = "next_wire"  # wire: auto: this wire refused; the request goes on to the next
    ERROR = "error"  # the provider's error (or redirect), in the shape of its family, which is the client's
    ERROR_ACROSS = "error_across"  # the provider's error, reshaped into the client's family
    RELAY = "relay"  # as it came: bytes through at once, a stream checked for its end
    REPLAY = "replay"  # a whole answer replayed as the client's stream
    TRANSLATE_STREAM = "translate_stream"  # a stream, event by event, into the client's wire
    TRANSLATE_WHOLE = "translate_whole"  # a whole answer into the client's whole answer


class Head(NamedTuple):
    """What is known of an answer when its head arrives (a tuple: one per answer)."""

    status: int
    sse: bool  # the head says text/event-stream
    translated: bool  # the provider spoke another wire than the client
    same_errors: bool  # the two wires' errors are of one family (crossing them changes nothing)
    stream: bool  # the client asked for a stream
    whole: bool  # ... and the provider was asked for a whole answer (streaming_off)
    rewrite: bool  # the request's tool check repairs calls inside a stream
    refused: bool = False  # wire: auto: the answer sent the request on to the next wire


Rule = tuple[str, Callable[[Head], bool], Path]

RULES: tuple[Rule, ...] = (
    ("wire: auto refused it", lambda h: h.refused, Path.NEXT_WIRE),
    ("an error in the client's family", lambda h: h.status >= 300 and (h.same_errors or not h.translated),
     Path.ERROR),
    ("an error of another family", lambda h: h.status >= 300, Path.ERROR_ACROSS),
    ("translated, the client streams, a stream came", lambda h: h.translated and h.stream and h.sse,
     Path.TRANSLATE_STREAM),
    ("translated, the client streams, a whole answer came", lambda h: h.translated and h.stream, Path.REPLAY),
    ("translated, a whole answer asked", lambda h: h.translated, Path.TRANSLATE_WHOLE),
    ("a whole answer for a client that streams", lambda h: h.stream and h.whole, Path.REPLAY),
    ("a stream whose tool calls are repaired", lambda h: h.rewrite and h.sse, Path.TRANSLATE_STREAM),
    ("the client's own wire", lambda h: True, Path.RELAY),
)  # fmt: skip


@lru_cache(maxsize=1024)  # the heads that occur are few (a status and seven flags): each is planned once
def plan(head: Head) -> Path:
    for _, holds, path in RULES:
        if holds(head):
            return path
    raise AssertionError("the last rule always holds")
