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
from proxyd.translate.stream import ChatToResponsesStream, Event
from proxyd.translate.tools import ToolName

DONE = b"data: [DONE]\n\n"


class ResponsesEncoder:
    __slots__ = ("_decoder", "machine")

    def __init__(self, machine: ChatToResponsesStream) -> None:
        self.machine = machine
        self._decoder = SSEDecoder()

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``, sent before the upstream answers."""
        return _encode(self.machine.start())

    def feed(self, chunk: bytes) -> bytes:
        return _encode([e for event in self._decoder.feed(chunk) for e in self.machine.feed(event.data)])

    def finish(self) -> bytes:
        events = [e for event in self._decoder.flush() for e in self.machine.feed(event.data)]
        return _encode(events + self.machine.finish()) + DONE

    def fail(self, message: str, code: str = "server_error") -> bytes:
        return _encode(self.machine.fail(message, code)) + DONE


def _encode(events: list[Event]) -> bytes:
    return b"".join(encode_event(json.dumps(e), e["type"]) for e in events)


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
