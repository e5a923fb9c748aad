"""Google's Gemini API (``generateContent``), the fourth wire (pure): Gemini CLI and the
google-genai SDK as clients (``/v1beta/models/{model}:generateContent``, ``:streamGenerateContent``,
``:countTokens``, ``models.list``), and ``wire: gemini`` providers (Google AI Studio, detected from
its host, or any server of the same API).

- :mod:`.request_to_pivot` / :mod:`.request_from_pivot`: requests both ways;
- :mod:`.answers`: a whole answer, ``usageMetadata``, ``finishReason`` and Google's error shape
  from the pivot's; :mod:`.to_pivot` a provider's answer and stream as the pivot's;
- :mod:`.from_pivot`: pivot items as a client's ``alt=sse`` stream;
- :mod:`.signatures`: thought signatures carried in call ids.

Gemini names the model and the streaming in the path (``/models/{model}:streamGenerateContent
?alt=sse``), not the body: :meth:`GeminiWire.upstream_path` says where a request goes.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from proxyd.config.settings import ModelEntry, Provider
from proxyd.errors import ProxyError
from proxyd.sse import SSEEvent, json_event
from proxyd.stream_end import StreamCheck
from proxyd.usage import Usage, usage_of
from proxyd.wires.gemini.answers import answer_from_chat, error_object, model_resource, models_page, wants_thoughts
from proxyd.wires.gemini.from_pivot import GeminiEncoder
from proxyd.wires.gemini.request_from_pivot import chat_to_gemini
from proxyd.wires.gemini.request_to_pivot import camel_keys, gemini_to_chat
from proxyd.wires.gemini.to_pivot import GeminiDecoder, answer_to_chat, usage_to_chat
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]
_FINISH_RE = re.compile(r'"finishReason"\s*:\s*"')
_USAGE_RE = re.compile(r'"usageMetadata"\s*:\s*\{')
_ERROR_RE = re.compile(r'^\s*\{\s*"error"\s*:')
CHARS_PER_TOKEN = 4


class GeminiStreamCheck(StreamCheck):
    """Complete at a chunk with a ``finishReason`` (or Google's error object); a cut stream ends
    with Google's error object, which Gemini CLI takes as a failure, never as an answer."""

    __slots__ = ()

    def see(self, event: SSEEvent) -> None:
        data = event.data
        if _FINISH_RE.search(data) or _ERROR_RE.match(data):
            self.complete = True
        if _USAGE_RE.search(data):
            self._usage_data = _usage_event(data)

    def error_event(self, message: str, code: str, response_id: str) -> bytes:
        return json_event(error_object(message, 502))


class GeminiWire:
    name = "gemini"
    path = "/models"  # each request's own: upstream_path
    # generateContent and streamGenerateContent; models.list and models.get (answered by proxyd)
    endpoints: tuple[str, ...] = ("gemini.generate", "gemini.models")
    count_endpoint = "gemini.count_tokens"
    list_endpoint = "gemini.models"
    answer_key, answer_kind = "candidates", "a Gemini answer"
    stateful = False
    errors = "google"
    default_headers: tuple[tuple[str, str], ...] = ()
    fallback: int | None = None  # wire: auto never turns to it: a provider says wire: gemini
    ubiquitous = False
    elsewhere: str | None = None
    first_token = re.compile(rb'"(?:text"\s*:\s*"[^"]|functionCall")')
    breakpoints = False

    model_in_path = True

    def upstream_path(self, model: str, stream: bool) -> tuple[str, str]:
        """Where a request for ``model`` goes, after base_url, and its query."""
        name = _model_segment(model)
        return (f"/models/{name}:streamGenerateContent", "alt=sse") if stream else (
            f"/models/{name}:generateContent", "")  # fmt: skip

    def upstream(self, body: Body, model: str) -> tuple[str, str, Body]:
        """The path and query for ``model``, streaming when the body says so (the flag and the
        model travel in the path, so they leave the body)."""
        path, query = self.upstream_path(model, body.get("stream") is True)
        return path, query, {k: v for k, v in body.items() if k not in ("stream", "model")}

    def listing(self, objects: list[Body], page_size: str | None, page_token: str | None) -> Body:
        """proxyd's catalog as ``models.list`` answers it, a page at a time."""
        return models_page(objects, page_size, page_token)

    def listed(self, model: Body) -> Body:
        return model_resource(model)

    def count_path(self, model: str) -> str | None:
        return f"/models/{_model_segment(model)}:countTokens"

    def count_answer(self, tokens: int) -> Body:
        return {"totalTokens": tokens}

    def fit(self, body: Body, provider: Provider, model: ModelEntry | None) -> tuple[Body | None, list[str]]:
        """A model's declared output limit lowers ``maxOutputTokens``."""
        limit = model.max_output_tokens if model is not None else None
        config = body.get("generationConfig")
        asked = config.get("maxOutputTokens") if isinstance(config, dict) else None
        if limit is None or not isinstance(asked, int) or asked <= limit or not isinstance(config, dict):
            return None, []
        fitted = {**body, "generationConfig": {**config, "maxOutputTokens": limit}}
        return fitted, [f"maxOutputTokens {asked} lowered to the model's {limit}"]

    def prime_cache(self, body: Body) -> Body | None:
        return None  # Gemini caches prefixes by itself (implicit caching)

    def to_pivot(self, body: Body) -> Pivoted:
        return gemini_to_chat(body)

    def offered_tools(self, body: Body) -> Pivoted:
        tools = gemini_to_chat({"contents": [{"parts": [{"text": ""}]}], "tools": body.get("tools")}).body
        return Pivoted({"tools": tools.get("tools", [])})

    def from_pivot(self, body: Body) -> Body:
        """Gemini's request, with the model and the stream flag for :meth:`upstream`, which moves
        them into the path before it is sent."""
        out = chat_to_gemini(body)
        if body.get("model") is not None:
            out["model"] = body["model"]
        if body.get("stream") is True:
            out["stream"] = True
        return out

    def whole(self, body: Body) -> Body:
        return {k: v for k, v in body.items() if k != "stream"}

    def wants_usage(self, body: Body) -> bool:
        return True  # every Gemini answer carries usageMetadata

    def answer_to_pivot(self, answer: Body, turn: Turn) -> Body:
        return answer_to_chat(answer, model=turn.model, created=turn.created)

    def answer_from_pivot(self, completion: Body, turn: Turn) -> Body:
        return answer_from_chat(completion, turn.request, model=turn.model, response_id=turn.response_id)

    def decoder(self, turn: Turn) -> GeminiDecoder:
        return GeminiDecoder(model=turn.model, created=turn.created)

    def encoder(self, turn: Turn) -> GeminiEncoder:
        return GeminiEncoder(response_id=turn.response_id, model=turn.model, thoughts=wants_thoughts(turn.request))

    def replay(self, answer: Body, include_usage: bool) -> bytes:
        """A whole answer as its stream: one chunk, as Gemini sends a short answer."""
        return json_event(answer)

    def usage(self, value: object) -> Usage | None:
        """``usageMetadata`` as token counts (the thoughts are completion, as chat counts them)."""
        return usage_of(usage_to_chat(value)) if isinstance(value, dict) else None

    def check(self) -> GeminiStreamCheck:
        return GeminiStreamCheck()

    def error_body(self, error: ProxyError) -> Body:
        return error_object(error.message, error.status)

    def count_tokens(self, body: Body) -> int:
        """An estimate of a request's tokens, for providers that cannot count them."""
        return max(1, len(self.prompt_text(body)) // CHARS_PER_TOKEN)

    def prompt_text(self, body: Body) -> str:
        body = camel_keys(body)
        inner = body.get("generateContentRequest")  # countTokens takes a whole request too
        request: Body = inner if isinstance(inner, dict) else body
        contents = [request.get("systemInstruction"), *(request.get("contents") or [])]
        texts = [str(p.get("text")) for c in contents if isinstance(c, dict) for p in c.get("parts") or []
                 if isinstance(p, dict) and p.get("text")]  # fmt: skip
        if request.get("tools"):
            texts.append(json.dumps(request["tools"]))
        return "\n".join(texts)

    def probe_body(self, model: str) -> Body:
        """The smallest real request (``proxyd check``): one streamed token (the model and the
        stream flag go in the path: :meth:`upstream`)."""
        return {"model": model, "stream": True, "contents": [{"role": "user", "parts": [{"text": "Say OK."}]}],
                "generationConfig": {"maxOutputTokens": 1}}  # fmt: skip


def _model_segment(model: str) -> str:
    return quote(model.removeprefix("models/"), safe="-._~")


def _usage_event(data: str) -> str:
    """The usage of a chunk, as an event the usage reader understands (chat's shape)."""
    try:
        metadata = json.loads(data).get("usageMetadata")
    except (ValueError, AttributeError):
        return ""
    return json.dumps({"usage": usage_to_chat(metadata)})


GEMINI = GeminiWire()
__all__ = ["GEMINI", "GeminiWire"]
