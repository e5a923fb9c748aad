"""Did a relayed stream end the way its wire says a stream ends? (pure)

proxyd relays stream bytes untouched, as they arrive, and feeds a copy to a :class:`StreamCheck`.
When the upstream closes, the check says what the client still needs:

- nothing, when the wire's terminal marker came (chat: ``data: [DONE]``; responses:
  ``response.completed`` / ``.incomplete`` / ``.failed`` or an ``error`` event) or the
  upstream already sent an error;
- ``data: [DONE]`` when a chat stream finished its choices (``finish_reason``) but a lax server
  left out the marker;
- otherwise an error event in the wire's own shape, so the client never mistakes a cut
  stream for a finished one.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from proxyd.sse import SSEDecoder, SSEEvent, encode_event
from proxyd.usage import Usage, usage_in_event

StreamWire = Literal["chat", "responses"]
DONE = b"data: [DONE]\n\n"
RESPONSES_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})

_FINISH_RE = re.compile(r'"finish_reason"\s*:\s*"')
_ERROR_RE = re.compile(r'^\s*\{\s*"error"\s*:')
_TYPE_RE = re.compile(r'"type"\s*:\s*"([a-z_.]+)"')
_USAGE_RE = re.compile(r'"usage"\s*:\s*\{')
_SEQ_RE = re.compile(r'"sequence_number"\s*:\s*(\d+)')


class StreamCheck:
    __slots__ = ("_decoder", "_finished_choices", "_last_data", "_response", "_usage_data", "complete", "wire")

    def __init__(self, wire: StreamWire) -> None:
        self.wire = wire
        self.complete = False
        self._decoder = SSEDecoder()
        self._finished_choices = False
        self._last_data = ""
        self._response: dict[str, Any] | None = None
        self._usage_data = ""  # the event that carried usage, parsed only when asked

    def usage(self) -> Usage | None:
        """Token usage the stream reported (chat's usage chunk, or the Responses terminal event)."""
        return usage_in_event(self._usage_data) if self._usage_data else None

    def feed(self, chunk: bytes) -> None:
        if self.complete:
            return
        for event in self._decoder.feed(chunk):
            self._see(event)

    def observe(self, chunk: bytes) -> bytes:
        """Feed a relayed chunk and hand it back unchanged (the relay's converter)."""
        self.feed(chunk)
        return chunk

    def closing(self) -> bytes | None:
        """At a clean upstream EOF: ``b""`` when complete, bytes that complete it, or ``None`` (failed)."""
        for event in self._decoder.flush():
            self._see(event)
        if self.complete:
            return b""
        if self.wire == "chat" and self._finished_choices:
            return DONE
        return None

    def failure(self, message: str, code: str, response_id: str) -> bytes:
        """An error event in the wire's shape, ending whatever half-event was on the wire."""
        sep = b"\n\n" if self._decoder.pending else b""
        error = {"message": message, "type": "upstream_error", "code": code, "param": None}
        if self.wire == "chat":
            return sep + encode_event(json.dumps({"error": error}))
        response = dict(self._response or {"id": response_id, "object": "response", "output": []})
        # Responses error codes are a closed set in the openai SDK; proxyd's own codes are not in it.
        response.update(status="failed", error={"code": "server_error", "message": message})
        seq = _SEQ_RE.search(self._last_data)
        event = {
            "type": "response.failed",
            "sequence_number": int(seq.group(1)) + 1 if seq else 0,
            "response": response,
        }
        return sep + encode_event(json.dumps(event), "response.failed")

    def _see(self, event: SSEEvent) -> None:
        data = event.data
        if self.wire == "chat":
            if data.strip() == "[DONE]" or _ERROR_RE.match(data):
                self.complete = True
                return
            if '"usage"' in data and _USAGE_RE.search(data):
                self._usage_data = data
            if not self._finished_choices and _FINISH_RE.search(data):
                self._finished_choices = True
            return
        self._last_data = data
        kind = event.event or _first_type(data)
        if kind in RESPONSES_TERMINAL:
            self.complete = True
            self._usage_data = data
        elif kind == "response.created" and self._response is None:
            self._response = _response_of(data)


def _first_type(data: str) -> str:
    m = _TYPE_RE.search(data)
    return m.group(1) if m else ""


def _response_of(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    response = value.get("response") if isinstance(value, dict) else None
    return response if isinstance(response, dict) else None
