"""Did a relayed stream end the way its wire says a stream ends? (pure)

proxyd relays stream bytes untouched, as they arrive, and feeds a copy to the wire's
:class:`StreamCheck` (each wire adapter has its own: :mod:`proxyd.wires`). When the upstream
closes, the check says what the client still needs:

- nothing, when the wire's terminal marker came or the upstream already sent an error;
- bytes that complete a stream a lax server left unfinished but whole (chat: ``data: [DONE]``
  after a ``finish_reason``);
- otherwise an error event in the wire's own shape, so the client never mistakes a cut
  stream for a finished one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from proxyd.sse import SSEDecoder, SSEEvent
from proxyd.usage import Usage, usage_in_event

_TYPE_RE = re.compile(r'"type"\s*:\s*"([a-z_.]+)"')


def event_type(event: SSEEvent) -> str:
    """An event's type: its ``event:`` name, else the first ``"type"`` in its data (no parse)."""
    if event.event:
        return event.event
    m = _TYPE_RE.search(event.data)
    return m.group(1) if m else ""


class StreamCheck:
    """What every wire's check shares: SSE decoding, the usage event, and the closing rule.
    A wire's subclass says what an event means (:meth:`see`), how a stream may be repaired
    (:meth:`repair`) and what its error event is (:meth:`error_event`)."""

    __slots__ = ("_decoder", "_usage_data", "complete", "on_event")

    def __init__(self) -> None:
        self.complete = False
        self._decoder = SSEDecoder()
        self._usage_data = ""  # the event that carried usage, parsed only when asked
        # Also given each event's data (tool-call checks read the stream it relays, decoded once).
        self.on_event: Callable[[str], object] | None = None

    def usage(self) -> Usage | None:
        """Token usage the stream reported."""
        return usage_in_event(self._usage_data) if self._usage_data else None

    def feed(self, chunk: bytes) -> None:
        if self.complete:
            return
        self._see_all(self._decoder.feed(chunk))

    def observe(self, chunk: bytes) -> bytes:
        """Feed a relayed chunk and hand it back unchanged (the relay's converter)."""
        self.feed(chunk)
        return chunk

    def closing(self) -> bytes | None:
        """At a clean upstream EOF: ``b""`` when complete, bytes that complete it, or ``None`` (failed)."""
        self._see_all(self._decoder.flush())
        return b"" if self.complete else self.repair()

    def _see_all(self, events: list[SSEEvent]) -> None:
        hook = self.on_event
        for event in events:
            self.see(event)
            if hook is not None:
                hook(event.data)

    def failure(self, message: str, code: str, response_id: str) -> bytes:
        """An error event in the wire's shape, ending whatever half-event was on the wire."""
        sep = b"\n\n" if self._decoder.pending else b""
        return sep + self.error_event(message, code, response_id)

    def see(self, event: SSEEvent) -> None:
        raise NotImplementedError

    def repair(self) -> bytes | None:
        return None

    def error_event(self, message: str, code: str, response_id: str) -> bytes:
        raise NotImplementedError
