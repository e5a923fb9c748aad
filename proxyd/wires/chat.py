"""The Chat Completions wire (pure).

Its requests, answers and stream chunks are the pivot's own form (:mod:`proxyd.wires.pivot`), so
this adapter mostly parses and writes: a chat provider's stream is decoded into pivot items as
they are, and pivot items are written to a chat client as ``data:`` lines, the usage chunk only
when the client asked for it (``stream_options.include_usage``), then ``data: [DONE]``. An error
ends the stream as an ``error`` data line, never with ``[DONE]``.
"""

from __future__ import annotations

import re
from typing import Any

from proxyd import jsoncodec
from proxyd.errors import ProxyError
from proxyd.fitting import adapt_chat
from proxyd.sse import SSEDecoder, SSEEvent, json_event
from proxyd.stream_end import StreamCheck
from proxyd.usage import Usage, usage_of
from proxyd.wires.pivot import DONE, END, Item, completion_chunks, error_line, parse
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]
_FINISH_RE = re.compile(r'"finish_reason"\s*:\s*"')
_ERROR_RE = re.compile(r'^\s*\{\s*"error"\s*:')
_USAGE_RE = re.compile(r'"usage"\s*:\s*\{')


def wants_usage(chat_request: dict[str, Any]) -> bool:
    """Did a chat client ask for the usage chunk (``stream_options.include_usage``)?"""
    options = chat_request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def completion_to_sse(completion: dict[str, Any], *, include_usage: bool) -> bytes:
    return b"".join(json_event(c) for c in completion_chunks(completion, include_usage)) + DONE


class ChatStreamCheck(StreamCheck):
    """Complete at ``data: [DONE]`` or an error line; a stream whose choices finished but that
    lacks the marker (lax servers) is completed with it."""

    __slots__ = ("_finished_choices",)

    def __init__(self) -> None:
        super().__init__()
        self._finished_choices = False

    def see(self, event: SSEEvent) -> None:
        data = event.data
        if data.strip() == "[DONE]" or _ERROR_RE.match(data):
            self.complete = True
            return
        if '"usage"' in data and _USAGE_RE.search(data):
            self._usage_data = data
        if not self._finished_choices and _FINISH_RE.search(data):
            self._finished_choices = True

    def repair(self) -> bytes | None:
        return DONE if self._finished_choices else None

    def error_event(self, message: str, code: str, response_id: str) -> bytes:
        return error_line(message, code)


class ChatDecoder:
    """A chat provider's stream bytes as pivot items."""

    __slots__ = ("_sse",)
    usage = None  # the client's encoder reports usage

    def __init__(self) -> None:
        self._sse = SSEDecoder()

    def feed(self, chunk: bytes) -> list[Item]:
        return [parse(event.data) for event in self._sse.feed(chunk)]

    def flush(self) -> list[Item]:
        return [parse(event.data) for event in self._sse.flush()]

    def events(self, datas: list[str]) -> list[Item]:
        """Events' ``data``, decoded elsewhere (a relayed stream's check shares its SSE decoding), in
        one JSON parse for all of them, which costs a fraction of one parse each (their [DONE] and
        any malformed one are read one by one)."""
        done = bool(datas) and datas[-1].strip() == "[DONE]"
        body = datas[:-1] if done else datas
        try:
            items: list[Item] = jsoncodec.loads("[" + ",".join(body) + "]") if body else []
        except ValueError:
            items = [parse(data) for data in body]
        return [*items, END] if done else items


class ChatEncoder:
    """Pivot items as a chat client's stream bytes."""

    __slots__ = ("_include_usage", "ended", "usage")
    answer = None

    def __init__(self, include_usage: bool) -> None:
        self._include_usage = include_usage
        self.ended = False
        self.usage: object = None  # from the usage chunk, when one passed (else the decoder may have it)

    def start(self) -> bytes:
        return b""

    def feed(self, items: list[Item]) -> bytes:
        out = []
        for item in items:
            if self.ended:
                break
            if item is END:
                self.ended = True
                out.append(DONE)
                continue
            if isinstance(item, dict):
                if "error" in item:
                    self.ended = True
                elif item.get("usage") is not None and not item.get("choices"):
                    self.usage = item["usage"]
                    if not self._include_usage:
                        continue  # the usage chunk, which this client did not ask for
            out.append(json_event(item))
        return b"".join(out)

    def finish(self) -> bytes:
        return b"" if self.ended else self.fail("the provider ended the stream before the answer was finished")

    def fail(self, message: str, code: str = "upstream_error") -> bytes:
        if self.ended:
            return b""
        self.ended = True
        return error_line(message, code)


class ChatWire:
    name = "chat"
    path = "/chat/completions"
    endpoints: tuple[str, ...] = (
        "chat.completions",
        "completions",
    )  # the first takes requests
    answer_key, answer_kind = "choices", "a chat completion"
    stateful = False  # no stored turns: a chat request carries its whole history
    errors = "openai"
    default_headers: tuple[tuple[str, str], ...] = ()
    fallback: int | None = 0  # wire: auto tries it first after the client's own: every server has it
    ubiquitous = True  # a 200 on it is taken at its word (an "unexpected endpoint" 200 comes from elsewhere)
    elsewhere: str | None = "responses"  # its errors may send a model (or all) to the Responses API
    first_token = re.compile(rb'"(?:content|reasoning_content|reasoning|arguments)"\s*:\s*"[^"]')
    fit = staticmethod(adapt_chat)
    breakpoints = False  # Anthropic's cache_control is the provider's to take (compat.cache_control)
    model_in_path = False  # the model goes in the body; the path is the wire's own

    def upstream(self, body: Body, model: str) -> tuple[str, str, Body]:
        """Where a request goes after base_url, its query, and the body sent there."""
        return self.path, "", body

    def prime_cache(self, body: Body) -> Body | None:
        return None  # OpenAI-style servers cache prefixes by themselves

    def to_pivot(self, body: Body) -> Pivoted:
        return Pivoted(body)

    def offered_tools(self, body: Body) -> Pivoted:
        return Pivoted({"tools": body.get("tools")})

    def from_pivot(self, body: Body) -> Body:
        """The pivot request as sent to a chat server: without the thinking blocks only an
        Anthropic provider takes back (``reasoning_content`` stays: DeepSeek's thinking mode
        needs it on assistant turns with tool calls)."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not any(isinstance(m, dict) and "thinking_blocks" in m for m in messages):
            return body
        bare = [{k: v for k, v in m.items() if k != "thinking_blocks"} if isinstance(m, dict) else m for m in messages]
        return {**body, "messages": bare}

    def whole(self, body: Body) -> Body:
        """The request asking for a whole answer instead of a stream."""
        return {k: v for k, v in body.items() if k not in ("stream", "stream_options")}

    def wants_usage(self, body: Body) -> bool:
        return wants_usage(body)

    def answer_to_pivot(self, answer: Body, turn: Turn) -> Body:
        return answer

    def answer_from_pivot(self, completion: Body, turn: Turn) -> Body:
        return completion

    def decoder(self, turn: Turn) -> ChatDecoder:
        return ChatDecoder()

    def encoder(self, turn: Turn) -> ChatEncoder:
        return ChatEncoder(turn.include_usage)

    def replay(self, answer: Body, include_usage: bool) -> bytes:
        """A whole answer as this wire's stream."""
        return completion_to_sse(answer, include_usage=include_usage)

    def usage(self, value: object) -> Usage | None:
        return usage_of(value)

    def check(self) -> ChatStreamCheck:
        return ChatStreamCheck()

    def error_body(self, error: ProxyError) -> Body:
        return error.body()

    def probe_body(self, model: str) -> Body:
        """The smallest real request (``proxyd check``): one streamed token."""
        return {"model": model, "messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 1, "stream": True}


CHAT = ChatWire()
