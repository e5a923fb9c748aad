"""The Anthropic Messages wire (pure): Claude Code and the anthropic SDK as clients, and
``wire: anthropic`` providers (Anthropic's API and the Anthropic-compatible endpoints of
DeepSeek, Moonshot, LiteLLM, llama.cpp...).

- :mod:`.request_to_pivot` / :mod:`.request_from_pivot`: requests both ways;
- :mod:`.answers`: whole messages both ways, stop reasons, usage, the error shape;
- :mod:`.to_pivot`: a provider's stream as pivot items;
- :mod:`.from_pivot`: pivot items as a client's stream (the state machine of content blocks);
- :mod:`.tokens`: a token estimate for ``count_tokens`` when no provider can count.
"""

from __future__ import annotations

import json
import re
from typing import Any

from proxyd.errors import ProxyError
from proxyd.fitting import adapt_anthropic
from proxyd.sse import SSEEvent, json_event
from proxyd.stream_end import StreamCheck, event_type
from proxyd.usage import Usage, usage_of
from proxyd.wires.anthropic.answers import (
    completion_to_message,
    error_object,
    error_type,
    message_to_completion,
    usage_to_chat,
)
from proxyd.wires.anthropic.caching import place_breakpoints
from proxyd.wires.anthropic.from_pivot import AnthropicEncoder
from proxyd.wires.anthropic.request_from_pivot import chat_to_anthropic
from proxyd.wires.anthropic.request_to_pivot import anthropic_to_chat, pivot_tools
from proxyd.wires.anthropic.to_pivot import ENDING, AnthropicDecoder
from proxyd.wires.anthropic.tokens import estimate, prompt_text
from proxyd.wires.pivot import END, completion_chunks
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]
_USAGE_RE = re.compile(r'"usage"\s*:\s*\{')


class AnthropicStreamCheck(StreamCheck):
    """Complete at ``message_stop`` or an ``error`` event; a cut stream ends with ``event: error``.
    Usage comes in two parts: the input and cache counts with ``message_start``, the output count
    (cumulative, with the input's again on newer servers) with ``message_delta``."""

    __slots__ = ("_start_data",)

    def __init__(self) -> None:
        super().__init__()
        self._start_data = ""

    def see(self, event: SSEEvent) -> None:
        data = event.data
        kind = event_type(event)
        if kind in ENDING:
            self.complete = True
        elif kind == "message_start":
            self._start_data = data
        elif kind == "message_delta" and _USAGE_RE.search(data):
            self._usage_data = _usage_only(self._start_data, data)

    def error_event(self, message: str, code: str, response_id: str) -> bytes:
        return json_event({"type": "error", "error": {"type": "api_error", "message": message}}, "error")


class AnthropicWire:
    name = "anthropic"
    path = "/messages"
    endpoints: tuple[str, ...] = ("messages",)
    count_endpoint = "messages.count_tokens"  # whose answer proxyd estimates when the provider cannot count
    answer_key, answer_kind = "content", "an Anthropic message"
    stateful = False
    errors = "anthropic"
    # Anthropic refuses a request without a version: sent unless the client or the config names one
    default_headers: tuple[tuple[str, str], ...] = (("anthropic-version", "2023-06-01"),)
    fallback: int | None = None  # wire: auto never turns to it: a provider says wire: anthropic
    ubiquitous = False
    elsewhere: str | None = None
    first_token = re.compile(rb'"(?:text|thinking|partial_json)"\s*:\s*"[^"]')
    fit = staticmethod(adapt_anthropic)
    breakpoints = True  # takes cache_control on its blocks: breakpoints cross to it as they are
    model_in_path = False  # the model goes in the body; the path is the wire's own

    def upstream(self, body: Body, model: str) -> tuple[str, str, Body]:
        """Where a request goes after base_url, its query, and the body sent there."""
        return self.path, "", body

    def prime_cache(self, body: Body) -> Body | None:
        """Breakpoints where they pay, for a request translated from a wire that marks none."""
        return place_breakpoints(body)

    def to_pivot(self, body: Body) -> Pivoted:
        return anthropic_to_chat(body)

    def offered_tools(self, body: Body) -> Pivoted:
        return Pivoted({"tools": pivot_tools(body.get("tools"))})

    def from_pivot(self, body: Body) -> Body:
        return chat_to_anthropic(body)

    def whole(self, body: Body) -> Body:
        return {k: v for k, v in body.items() if k != "stream"}

    def wants_usage(self, body: Body) -> bool:
        return True  # message_delta always carries usage

    def answer_to_pivot(self, answer: Body, turn: Turn) -> Body:
        return message_to_completion(answer, turn.model)

    def answer_from_pivot(self, completion: Body, turn: Turn) -> Body:
        return completion_to_message(completion, _message_id(turn), turn.model)

    def decoder(self, turn: Turn) -> AnthropicDecoder:
        return AnthropicDecoder(model=turn.model, created=turn.created)

    def encoder(self, turn: Turn) -> AnthropicEncoder:
        return AnthropicEncoder(message_id=_message_id(turn), model=turn.model)

    def replay(self, answer: Body, include_usage: bool) -> bytes:
        """A whole message as its stream: through the pivot and the client encoder."""
        model = str(answer.get("model") or "")
        encoder = AnthropicEncoder(message_id=str(answer.get("id") or "msg_proxyd"), model=model)
        chunks = completion_chunks(message_to_completion(answer, model), include_usage=True)
        return encoder.start() + encoder.feed([*chunks, END])

    def usage(self, value: object) -> Usage | None:
        """Anthropic counts cache reads and writes beside ``input_tokens``; the prompt is all three."""
        return usage_of(usage_to_chat(value) if isinstance(value, dict) else value)

    def check(self) -> AnthropicStreamCheck:
        return AnthropicStreamCheck()

    def error_body(self, error: ProxyError) -> Body:
        return error_object(error.message, error.status)

    def count_path(self, model: str) -> str | None:
        return None  # the client's own path: /messages/count_tokens

    def count_answer(self, tokens: int) -> Body:
        return {"input_tokens": tokens}

    def count_tokens(self, body: Body) -> int:
        """An estimate of the request's input tokens, for providers that cannot count them."""
        return estimate(body)

    def prompt_text(self, body: Body) -> str:
        return prompt_text(body)

    def probe_body(self, model: str) -> Body:
        """The smallest real request (``proxyd check``): one streamed token."""
        return {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "Say OK."}], "stream": True}


def _message_id(turn: Turn) -> str:
    return "msg_" + turn.response_id.removeprefix("resp_")


def _usage_only(start: str, delta: str) -> str:
    """The usage of a message_start and its message_delta, the delta's counts over the start's,
    as an event the usage reader understands."""
    try:
        usage = {**(json.loads(start).get("message", {}).get("usage") or {})} if start else {}
    except (ValueError, AttributeError):
        usage = {}
    try:
        usage.update(json.loads(delta).get("usage") or {})
    except (ValueError, AttributeError, TypeError):
        return ""
    return json.dumps({"usage": usage_to_chat(usage)})


ANTHROPIC = AnthropicWire()
__all__ = ["ANTHROPIC", "AnthropicWire", "error_type"]
