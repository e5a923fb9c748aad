"""The Responses wire (pure): its requests, answers and streams to and from the pivot.

The mappings live beside it: ``request_to_pivot`` and ``request_from_pivot`` (requests both ways),
``machine`` (the chat-chunks-to-events state machine), ``to_pivot``, ``from_pivot``, ``response``
and ``replay`` (streams and whole answers); this adapter is the one face the rest of proxyd sees. Responses is
stateful: a request may name a ``previous_response_id``, so a translated turn is stored when it
ends and expanded from the store when it is continued (the I/O for that is the caller's).
"""

from __future__ import annotations

import re
from typing import Any

from proxyd import jsoncodec
from proxyd.errors import ProxyError
from proxyd.fitting import adapt_responses
from proxyd.sse import SSEEvent, json_event
from proxyd.stream_end import StreamCheck, event_type
from proxyd.usage import Usage, usage_of
from proxyd.wires.errors import TranslationError
from proxyd.wires.responses.from_pivot import ResponsesEncoder, chat_to_response
from proxyd.wires.responses.machine import ChatToResponsesStream
from proxyd.wires.responses.replay import response_to_sse
from proxyd.wires.responses.request_from_pivot import chat_to_responses
from proxyd.wires.responses.request_to_pivot import responses_to_chat
from proxyd.wires.responses.to_pivot import ENDING, ResponsesDecoder, response_to_completion
from proxyd.wires.responses.tools import convert_tools
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]
TERMINAL = ENDING  # the decoder's table says which events end a stream
_SEQ_RE = re.compile(r'"sequence_number"\s*:\s*(\d+)')


class ResponsesStreamCheck(StreamCheck):
    """Complete at a terminal event; a cut stream ends with ``response.failed`` that continues
    the sequence and keeps the upstream's response id."""

    __slots__ = ("_last_data", "_response")

    def __init__(self) -> None:
        super().__init__()
        self._last_data = ""
        self._response: dict[str, Any] | None = None

    def see(self, event: SSEEvent) -> None:
        data = event.data
        self._last_data = data
        kind = event_type(event)
        if kind in TERMINAL:
            self.complete = True
            self._usage_data = data
        elif kind == "response.created" and self._response is None:
            self._response = _response_of(data)

    def error_event(self, message: str, code: str, response_id: str) -> bytes:
        response = dict(self._response or {"id": response_id, "object": "response", "output": []})
        # Responses error codes are a closed set in the openai SDK; proxyd's own codes are not in it.
        response.update(status="failed", error={"code": "server_error", "message": message})
        seq = _SEQ_RE.search(self._last_data)
        event = {
            "type": "response.failed",
            "sequence_number": int(seq.group(1)) + 1 if seq else 0,
            "response": response,
        }
        return json_event(event, "response.failed")


class ResponsesWire:
    name = "responses"
    path = "/responses"
    endpoints: tuple[str, ...] = ("responses", "responses.item")  # GET /responses/{id}?stream=true streams too
    answer_key, answer_kind = "output", "a response"
    stateful = True
    errors = "openai"
    default_headers: tuple[tuple[str, str], ...] = ()
    fallback: int | None = 1  # wire: auto tries it after chat
    ubiquitous = False  # desktop apps answer it with a 200 that says "unexpected endpoint"
    elsewhere: str | None = None
    first_token = re.compile(rb'"delta"\s*:\s*"[^"]')
    fit = staticmethod(adapt_responses)
    breakpoints = False
    model_in_path = False  # the model goes in the body; the path is the wire's own

    def upstream(self, body: Body, model: str) -> tuple[str, str, Body]:
        """Where a request goes after base_url, its query, and the body sent there."""
        return self.path, "", body

    def prime_cache(self, body: Body) -> Body | None:
        return None  # OpenAI-style servers cache prefixes by themselves

    def to_pivot(self, body: Body) -> Pivoted:
        chat = responses_to_chat(body)
        return Pivoted(chat.body, chat.tool_names, tuple(chat.dropped))

    def offered_tools(self, body: Body) -> Pivoted:
        try:
            tools = convert_tools(body.get("tools"))
        except TranslationError:
            return Pivoted({})  # the provider answers for a broken tool list; nothing to check against
        return Pivoted({"tools": tools.tools}, tools.names)

    def from_pivot(self, body: Body) -> Body:
        return chat_to_responses(body)

    def whole(self, body: Body) -> Body:
        return {k: v for k, v in body.items() if k not in ("stream", "stream_options")}

    def wants_usage(self, body: Body) -> bool:
        return True  # a Response always carries its usage

    def answer_to_pivot(self, answer: Body, turn: Turn) -> Body:
        return response_to_completion(answer, turn.model, turn.tool_names)

    def answer_from_pivot(self, completion: Body, turn: Turn) -> Body:
        return chat_to_response(completion, turn.request, response_id=turn.response_id, tool_names=turn.tool_names)

    def decoder(self, turn: Turn) -> ResponsesDecoder:
        return ResponsesDecoder(model=turn.model, created=turn.created, names=turn.tool_names)

    def encoder(self, turn: Turn) -> ResponsesEncoder:
        machine = ChatToResponsesStream(turn.request, response_id=turn.response_id, tool_names=turn.tool_names)
        return ResponsesEncoder(machine)

    def replay(self, answer: Body, include_usage: bool) -> bytes:
        return response_to_sse(answer)

    def usage(self, value: object) -> Usage | None:
        return usage_of(value)

    def check(self) -> ResponsesStreamCheck:
        return ResponsesStreamCheck()

    def error_body(self, error: ProxyError) -> Body:
        return error.body()  # the Responses API answers errors in the OpenAI shape

    def probe_body(self, model: str) -> Body:
        """The smallest real request (``proxyd check``): 16 is the least many servers accept."""
        return {"model": model, "input": "Say OK.", "max_output_tokens": 16, "stream": True, "store": False}


def _response_of(data: str) -> dict[str, Any] | None:
    try:
        value = jsoncodec.loads(data)
    except ValueError:
        return None
    response = value.get("response") if isinstance(value, dict) else None
    return response if isinstance(response, dict) else None


RESPONSES = ResponsesWire()
