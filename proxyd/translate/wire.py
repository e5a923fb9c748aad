"""Whole answers and byte streams between the two wires (pure).

:func:`chat_to_response` turns a JSON chat completion into a Responses object;
:class:`ResponsesEncoder` takes the bytes of a chat completion stream and gives the bytes of
a Responses stream.

Joins the SSE decoder, :class:`ChatToResponsesStream` and the SSE encoder so the relay only
moves bytes. Every Responses event goes out with an ``event:`` line equal to its ``type``, and
the stream ends with ``data: [DONE]`` after the terminal event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from proxyd.sse import SSEDecoder, encode_event
from proxyd.synth import completion_chunks
from proxyd.translate.stream import ChatToResponsesStream, Event, Phase
from proxyd.translate.tools import ToolName

DONE = b"data: [DONE]\n\n"


class ResponsesEncoder:
    """The terminal event (``response.completed``, ``.incomplete`` or ``.failed``) and the
    ``[DONE]`` after it are held back from :meth:`feed` and given by :meth:`finish`: the caller
    stores the response first, so a client that reads "completed" and at once sends
    ``previous_response_id`` (to any worker) finds it."""

    __slots__ = ("_decoder", "_end", "machine")

    def __init__(self, machine: ChatToResponsesStream) -> None:
        self.machine = machine
        self._decoder = SSEDecoder()
        self._end: bytes | None = None

    @property
    def ended(self) -> bool:
        """The chat stream is over (``[DONE]`` or an error): nothing more is read from it."""
        return self._end is not None

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``, sent before the upstream answers."""
        return _encode(self.machine.start())

    def feed(self, chunk: bytes) -> bytes:
        events = [e for event in self._decoder.feed(chunk) for e in self.machine.feed(event.data)]
        if self.machine.phase is Phase.DONE and self._end is None:
            self._end = _encode([events.pop()]) + DONE  # the machine's last event is its terminal one
        return _encode(events)

    def finish(self) -> bytes:
        if self._end is not None:
            return self._end
        events = [e for event in self._decoder.flush() for e in self.machine.feed(event.data)]
        return _encode(events + self.machine.finish()) + DONE

    def fail(self, message: str, code: str = "server_error") -> bytes:
        if self._end is not None:
            return self._end
        return _encode(self.machine.fail(message, code)) + DONE


def _encode(events: list[Event]) -> bytes:
    return b"".join(_delta(e) if e["type"] == _DELTA else encode_event(json.dumps(e), e["type"]) for e in events)


_DELTA = "response.output_text.delta"


def _delta(e: Event) -> bytes:
    # Most of a stream's events are text deltas: a template (keys in the machine's order, as
    # json.dumps would write them) with only the text encoded costs a fifth of a full dumps.
    return (
        f'event: {_DELTA}\ndata: {{"type": "{_DELTA}", "sequence_number": {e["sequence_number"]}, '
        f'"item_id": {json.dumps(e["item_id"])}, "output_index": {e["output_index"]}, '
        f'"content_index": {e["content_index"]}, "delta": {json.dumps(e["delta"])}, "logprobs": []}}\n\n'
    ).encode()


def chat_to_response(
    completion: dict[str, Any],
    request: dict[str, Any],
    *,
    response_id: str,
    tool_names: Mapping[str, ToolName],
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """A JSON chat completion as a Responses object: the same machine, fed the chunks the
    answer would have streamed as, so JSON and streamed answers cannot drift apart."""
    machine = ChatToResponsesStream(request, response_id=response_id, tool_names=tool_names, clock=clock)
    for chunk in completion_chunks(completion, include_usage=True):
        machine.feed(json.dumps(chunk))
    machine.feed("[DONE]")
    return machine.response
