"""A Gemini provider's answers as the pivot's (pure): a whole ``GenerateContentResponse`` as a chat
completion, and its ``alt=sse`` stream as pivot items.

Text parts become ``content``, ``thought: true`` parts ``reasoning_content``, ``functionCall``
parts ``tool_calls`` (each whole: Gemini never splits arguments), their ids carrying the call's
``thoughtSignature`` (:mod:`proxyd.wires.gemini.signatures`). ``STOP`` is ``tool_calls`` when the
answer called a function; ``MAX_TOKENS`` is ``length``; the safety reasons ``content_filter``. The
stream has no end marker: the body's end after a ``finishReason`` is the end, and a body that
ends without one (or with Google's error object) ends in an error item, never as an answer.
"""

from __future__ import annotations

import json
from typing import Any

from proxyd import jsoncodec
from proxyd.wires.gemini.signatures import signed_id
from proxyd.wires.pivot import END, EventDecoder, Item

Body = dict[str, Any]
TO_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
             "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
             "IMAGE_SAFETY": "content_filter", "LANGUAGE": "content_filter"}  # fmt: skip


def usage_to_chat(metadata: object) -> Body:
    """``usageMetadata`` as chat usage: the thoughts count in the completion, as OpenAI counts them."""
    m = metadata if isinstance(metadata, dict) else {}
    prompt, candidates = _int(m.get("promptTokenCount")), _int(m.get("candidatesTokenCount"))
    thoughts, cached = _int(m.get("thoughtsTokenCount")), _int(m.get("cachedContentTokenCount"))
    usage: Body = {"prompt_tokens": prompt, "completion_tokens": candidates + thoughts,
                   "total_tokens": _int(m.get("totalTokenCount")) or prompt + candidates + thoughts}  # fmt: skip
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return usage


def read_parts(parts: object, first_call: int, response_id: str) -> tuple[str, str, list[Body]]:
    """The text, the thoughts and the calls (chat form, indexed from ``first_call``) of some parts."""
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[Body] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else text).append(part["text"])
        call = part.get("functionCall")
        if isinstance(call, dict):
            index = first_call + len(calls)
            own = str(call.get("id") or f"call_{response_id}_{index}")
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
            calls.append({"index": index, "id": signed_id(own, part.get("thoughtSignature")), "type": "function",
                          "function": {"name": str(call.get("name") or ""), "arguments": arguments}})  # fmt: skip
    return "".join(text), "".join(thoughts), calls


def finish_to_chat(reason: object, called: bool) -> str:
    finish = TO_FINISH.get(reason, "stop") if isinstance(reason, str) else "stop"
    return "tool_calls" if finish == "stop" and called else finish


def answer_to_chat(answer: Body, *, model: str, created: int) -> Body:
    """A whole Gemini answer as a chat completion (no candidate: a blocked prompt, ``content_filter``)."""
    candidate = first_candidate(answer)
    content = _content(candidate)
    response_id = str(answer.get("responseId") or "proxyd")
    text, thoughts, calls = read_parts(content.get("parts"), 0, response_id)
    message: Body = {"role": "assistant", "content": text or None}
    if thoughts:
        message["reasoning_content"] = thoughts
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
    finish = finish_to_chat(candidate.get("finishReason"), bool(calls)) if candidate else "content_filter"
    return {"id": f"chatcmpl-{response_id}", "object": "chat.completion", "created": created,
            "model": str(answer.get("modelVersion") or model),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage_to_chat(answer.get("usageMetadata"))}  # fmt: skip


class GeminiDecoder(EventDecoder):
    __slots__ = ("_base", "_calls", "_finish", "_metadata", "_started", "usage")

    def __init__(self, *, model: str, created: int) -> None:
        super().__init__()
        self._base: Body = {"id": "chatcmpl-proxyd", "object": "chat.completion.chunk", "created": created,
                            "model": model}  # fmt: skip
        self._calls = 0
        self._finish: str | None = None
        self._metadata: object = None
        self._started = False
        self.usage: object = None  # the provider's usage (chat shape), once the stream ended

    def _at_end(self) -> list[Item]:
        """Gemini's stream has no end marker: the body's end after a finishReason is the end."""
        if self._finish is None:
            return self._error("the provider ended the stream without a finish reason")
        self.ended = True
        self.usage = usage_to_chat(self._metadata)
        return [{**self._base, "choices": [], "usage": self.usage}, END]

    def _event(self, data: str) -> list[Item]:
        try:
            chunk = jsoncodec.loads(data)
        except ValueError:
            return self._error("the provider sent a chunk that is not JSON")
        if not isinstance(chunk, dict):
            return self._error("the provider sent a chunk that is not a JSON object")
        if isinstance(chunk.get("error"), dict):
            said = chunk["error"].get("message") or "the stream failed"
            return self._error(f"provider error: {said}", str(chunk["error"].get("status") or "upstream_error"))
        if chunk.get("responseId"):
            self._base["id"] = f"chatcmpl-{chunk['responseId']}"
        if chunk.get("usageMetadata") is not None:
            self._metadata = chunk["usageMetadata"]
        candidate = first_candidate(chunk)
        content = _content(candidate)
        text, thoughts, calls = read_parts(content.get("parts"), self._calls, self._base["id"])
        self._calls += len(calls)
        delta: Body = {} if self._started else {"role": "assistant"}
        self._started = True
        for key, value in (("reasoning_content", thoughts), ("content", text)):
            if value:
                delta[key] = value
        if calls:
            delta["tool_calls"] = calls
        finish = None
        if candidate.get("finishReason") is not None or (not candidate and chunk.get("promptFeedback")):
            finish = finish_to_chat(candidate.get("finishReason"), self._calls > 0) if candidate else "content_filter"
            self._finish = finish
        return [self._chunk(delta, finish)] if delta or finish else []

    def _chunk(self, delta: Body, finish: str | None) -> Body:
        return {**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def first_candidate(answer: Body) -> Body:
    candidates = answer.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    return first if isinstance(first, dict) else {}


def _content(candidate: Body) -> Body:
    content = candidate.get("content")
    return content if isinstance(content, dict) else {}


def _int(value: object) -> int:
    return value if type(value) is int and value > 0 else 0
