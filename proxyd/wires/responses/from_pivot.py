"""Responses answers and streams from the pivot (pure).

:func:`chat_to_response` turns a pivot (chat) completion into a Responses object;
:class:`ResponsesEncoder` turns pivot stream items into the bytes of a Responses stream, through
:class:`ChatToResponsesStream`. Every Responses event goes out with an ``event:`` line equal to
its ``type``, and the stream ends with ``data: [DONE]`` after the terminal event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from proxyd.sse import json_event
from proxyd.wires.pivot import DONE, END, Item, completion_chunks
from proxyd.wires.responses.machine import ChatToResponsesStream, Event
from proxyd.wires.turn import ToolName


class ResponsesEncoder:
    """Pivot stream items in, Responses stream bytes out.

    The terminal event (``response.completed``, ``.incomplete`` or ``.failed``) and the
    ``[DONE]`` after it are held back from :meth:`feed` and given by :meth:`finish`: the caller
    stores the response first, so a client that reads "completed" and at once sends
    ``previous_response_id`` (to any worker) finds it."""

    __slots__ = ("machine",)

    def __init__(self, machine: ChatToResponsesStream) -> None:
        self.machine = machine

    @property
    def ended(self) -> bool:
        """The answer is over (``[DONE]`` or an error): nothing more is read from upstream."""
        return self.machine.terminal is not None

    @property
    def usage(self) -> object:
        return self.machine.response.get("usage")

    @property
    def answer(self) -> dict[str, Any]:
        """The response as it stands (whole once :attr:`ended`)."""
        return self.machine.response

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``, sent before the upstream answers."""
        return _encode(self.machine.start())

    def feed(self, items: list[Item]) -> bytes:
        step = self.machine.step
        return _encode([e for item in items for e in step(item)])

    def finish(self) -> bytes:
        return _encode(self.machine.end_step()) + self._end()

    def fail(self, message: str, code: str = "server_error") -> bytes:
        return _encode(self.machine.fail_step(message, code)) + self._end()

    def _end(self) -> bytes:
        terminal = self.machine.terminal
        assert terminal is not None  # end_step and fail_step always end the machine
        return _encode([terminal]) + DONE


def _encode(events: list[Event]) -> bytes:
    return b"".join(json_event(e, e["type"]) for e in events)


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
        machine.step(chunk)
    machine.step(END)
    return machine.response
