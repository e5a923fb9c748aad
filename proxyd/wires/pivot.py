"""The pivot every translation goes through: Chat Completions, read as data (pure).

A request, a whole answer and a stream cross from one wire to another through this one form, so
N wires need N adapters, not N² translators: each adapter maps its API to the pivot and back.

**Why Chat Completions, not a new representation of a turn.** Every provider proxyd reaches
speaks it, and most local servers speak nothing else, so the commonest translation (a Responses
or Anthropic client in front of a chat-only server) is one step, and the provider side of it is
no step at all. Its stream is a flat sequence of self-contained deltas (text, reasoning, indexed
tool-call pieces, a finish reason, usage), which is what every client encoder builds its own
structure from: the Responses machine derives items and ``output_index`` from it, as an
Anthropic encoder derives content blocks. A home-made turn type would need its own stream form
too, and be one more shape to learn, test and keep in step with the APIs.

**What crosses.** Messages with text and image parts, tool definitions and choice, tool calls
(parallel ones by their ``index``), tool results, ``reasoning_effort``, ``response_format``,
max tokens, finish reason, and usage with its details. Fields the chat wire lacks travel as the
extensions servers already use: ``reasoning_content`` (reasoning text, DeepSeek's name) in
messages and deltas. Custom (freeform) and namespaced tools cross as function tools whose names
the client adapter maps back (``tool_names``).

**What does not cross**: hosted tools (``web_search``...), ``n`` > 1, logprobs, ``store``,
``include``, ``truncation``; each adapter lists what it dropped (``translation_dropped`` is
logged once per request) and answers a 400 naming the field where the client relies on it.

The pivot stream: chunk objects as a chat stream's ``data`` carries them, ``{"error": {...}}``
for an error the provider reported, :data:`END` for the stream's terminal marker, and
:class:`Malformed` for a ``data`` payload that is not JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from proxyd import jsoncodec
from proxyd.sse import SSEDecoder, json_event

WIRE: Final = "chat"  # the pivot is this wire's own form: a chat provider needs no translation
DONE: Final = b"data: [DONE]\n\n"  # the chat stream's terminal marker


# The grammar of a pivot stream, which every client encoder follows (h11 style: one table of
# legal moves, every input through it)::
#
#     START --begin--> STREAMING --finish_reason--> FINISHING --end--> DONE
#                      (delta, usage)               (delta, usage)     ^
#                         \------------------end/fail-----------------/


class Phase(enum.Enum):
    START = "start"
    STREAMING = "streaming"
    FINISHING = "finishing"  # finish_reason seen; usage may still come
    DONE = "done"


MOVES = {
    (Phase.START, "begin"): Phase.STREAMING,
    (Phase.STREAMING, "delta"): Phase.STREAMING,
    (Phase.FINISHING, "delta"): Phase.FINISHING,  # lax servers send a last piece after finish_reason
    (Phase.STREAMING, "usage"): Phase.STREAMING,
    (Phase.FINISHING, "usage"): Phase.FINISHING,
    (Phase.STREAMING, "finish_reason"): Phase.FINISHING,
    (Phase.FINISHING, "finish_reason"): Phase.FINISHING,
    (Phase.STREAMING, "end"): Phase.DONE,
    (Phase.FINISHING, "end"): Phase.DONE,
    (Phase.STREAMING, "fail"): Phase.DONE,
    (Phase.FINISHING, "fail"): Phase.DONE,
}


class End:
    """The end of a pivot stream (chat's ``data: [DONE]``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END"

    def __copy__(self) -> End:
        return self

    def __deepcopy__(self, memo: object) -> End:
        return self  # one END: streams compare their items with ``is``


END: Final = End()


@dataclass(frozen=True, slots=True)
class Malformed:
    """A stream payload that is not JSON, kept for the message that reports it."""

    data: str


# A chunk object, END, Malformed, an error object, or (from a broken server) JSON that is not an object.
Item = Any


def parse(data: str) -> Item:
    """One chat stream ``data`` payload as a pivot item."""
    if data.strip() == "[DONE]":
        return END
    try:
        return jsoncodec.loads(data)
    except ValueError:
        return Malformed(data)


def error_item(message: str, code: str) -> dict[str, Any]:
    """An error in the chat wire's shape, as a stream item and as the ``data`` line that carries it."""
    return {"error": {"message": message, "type": "upstream_error", "code": code, "param": None}}


def error_line(message: str, code: str) -> bytes:
    return json_event(error_item(message, code))


class EventDecoder:
    """The frame every provider-stream decoder shares: SSE framing, nothing after the stream's
    end, and a body that stops before the answer did ending in an error item. A wire's decoder
    says what one event means (:meth:`_event`), and may say how its stream ends (:meth:`_at_end`)."""

    __slots__ = ("_sse", "ended")

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self.ended = False

    def feed(self, chunk: bytes) -> list[Item]:
        return self.events([e.data for e in self._sse.feed(chunk)])

    def events(self, datas: list[str]) -> list[Item]:
        """Events' ``data``, decoded here or elsewhere (a relayed stream's check shares its SSE decoding)."""
        return [item for data in datas if not self.ended for item in self._event(data)]

    def flush(self) -> list[Item]:
        items = self.events([e.data for e in self._sse.flush()])
        return items if self.ended else items + self._at_end()

    def _at_end(self) -> list[Item]:
        """The body ended and the stream had not: a cut."""
        return self._error("the provider ended the stream before the answer was finished", "upstream_error")

    def _event(self, data: str) -> list[Item]:
        raise NotImplementedError

    def _error(self, message: str, code: str = "upstream_error") -> list[Item]:
        self.ended = True
        return [error_item(message, code)]


_PASSED_MESSAGE_FIELDS = ("content", "refusal", "reasoning_content", "reasoning")


def completion_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A whole pivot answer as the chunks a stream of it would carry (for replays and translations)."""
    base = {
        "id": completion.get("id", "chatcmpl-proxyd"),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    if "system_fingerprint" in completion:
        base["system_fingerprint"] = completion["system_fingerprint"]
    chunks = []
    for position, choice in enumerate(completion.get("choices") or []):
        index = choice.get("index", position)
        chunks.append({**base, "choices": [{"index": index, "delta": _delta(choice), "finish_reason": None}]})
        finish = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}
        chunks.append({**base, "choices": [finish]})
    if include_usage and completion.get("usage") is not None:
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return chunks


def _delta(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message") or {}
    delta: dict[str, Any] = {"role": message.get("role") or "assistant"}
    for name in _PASSED_MESSAGE_FIELDS:
        if message.get(name) is not None:
            delta[name] = message[name]
    signed = [b for b in message.get("thinking_blocks") or [] if isinstance(b, dict) and b.get("signature")]
    if signed:  # an Anthropic provider's signature rides with the reasoning it signed
        delta["reasoning_signature"] = "".join(str(b["signature"]) for b in signed)
    calls = message.get("tool_calls")
    if calls:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
    return delta
