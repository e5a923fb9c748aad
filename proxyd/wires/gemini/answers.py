"""Gemini's answers and errors from the pivot's (pure): a whole ``GenerateContentResponse``, its
``usageMetadata``, its ``finishReason``, and its error body.

A function call ends with ``STOP`` on Gemini (it has no tool-use reason); thought summaries are
parts with ``thought: true``, sent only to a request that asked for them (``includeThoughts``);
each call carries the pivot's id, so a client that replays it (Gemini CLI does) pairs the
response with it exactly.
"""

from __future__ import annotations

import json
from typing import Any

Body = dict[str, Any]

FROM_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "function_call": "STOP",
               "content_filter": "SAFETY"}  # fmt: skip
# An HTTP status as Google's error ``status`` (google.rpc.Code names).
STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            409: "ABORTED", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
            499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED"}  # fmt: skip


def error_object(message: str, status: int) -> Body:
    """Google's error body: ``{"error": {"code", "message", "status"}}``."""
    name = STATUSES.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def finish_reason(chat: object) -> str:
    return FROM_FINISH.get(chat, "OTHER") if isinstance(chat, str) else "OTHER"


def usage_metadata(usage: object) -> Body:
    """Chat usage as Gemini's: ``candidatesTokenCount`` leaves out the thoughts, which have their own
    count; ``promptTokenCount`` includes what was read from the cache, as the chat count does."""
    u = usage if isinstance(usage, dict) else {}
    prompt = _int(u.get("prompt_tokens"))
    completion = _int(u.get("completion_tokens"))
    cached = _int((u.get("prompt_tokens_details") or {}).get("cached_tokens"))
    thoughts = _int((u.get("completion_tokens_details") or {}).get("reasoning_tokens"))
    out: Body = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": max(completion - thoughts, 0),
        "totalTokenCount": _int(u.get("total_tokens")) or prompt + completion,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if cached:
        out["cachedContentTokenCount"] = cached
    return out


def wants_thoughts(request: Body) -> bool:
    """Did the request ask for thought summaries (in either of the API's spellings)?"""
    config = request.get("generationConfig") or request.get("generation_config")
    thinking = (config.get("thinkingConfig") or config.get("thinking_config")) if isinstance(config, dict) else None
    if not isinstance(thinking, dict):
        return False
    return (thinking.get("includeThoughts") or thinking.get("include_thoughts")) is True


def function_call(call_id: str, name: str, arguments: str) -> Body:
    """A whole function call part; arguments that are not a JSON object travel as ``{"arguments": text}``."""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        args = {"arguments": arguments}
    return {"functionCall": {"id": call_id, "name": name, "args": args if isinstance(args, dict) else {"value": args}}}


def response(parts: list[Body], finish: str | None, usage: object, *, model: str, response_id: str) -> Body:
    """A ``GenerateContentResponse`` (or a chunk of one): one candidate with ``parts``."""
    candidate: Body = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    out: Body = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage_metadata(usage)
    out["modelVersion"] = model
    out["responseId"] = response_id
    return out


def answer_from_chat(completion: Body, request: Body, *, model: str, response_id: str) -> Body:
    """A whole pivot answer as Gemini's."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    parts: list[Body] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning and wants_thoughts(request):
        parts.append({"text": reasoning, "thought": True})
    if isinstance(message.get("content"), str) and message["content"]:
        parts.append({"text": message["content"]})
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        parts.append(function_call(str(call.get("id") or ""), str(function.get("name") or ""),
                                   str(function.get("arguments") or "")))  # fmt: skip
    finish = finish_reason(choice.get("finish_reason") or "stop")
    return response(parts, finish, completion.get("usage") or {}, model=model, response_id=response_id)


def _int(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


PAGE_SIZE, PAGE_MAX = 50, 1000  # models.list's default and largest pageSize


def model_resource(obj: Body) -> Body:
    """An OpenAI ``model`` object of proxyd's catalog as Gemini's ``Model`` resource."""
    model_id = str(obj["id"])
    out: Body = {"name": f"models/{model_id}", "baseModelId": model_id, "version": "proxyd",
                 "displayName": model_id, "supportedGenerationMethods": list(_METHODS)}  # fmt: skip
    if isinstance(obj.get("context_window"), int):
        out["inputTokenLimit"] = obj["context_window"]
    if isinstance(obj.get("max_output_tokens"), int):
        out["outputTokenLimit"] = obj["max_output_tokens"]
    return out


_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


def models_page(objects: list[Body], page_size: str | None, page_token: str | None) -> Body:
    """One page of ``models.list``: ``pageToken`` is where the page starts (an opaque number)."""
    size = int(page_size) if page_size and page_size.isdigit() and int(page_size) > 0 else PAGE_SIZE
    start = int(page_token) if page_token and page_token.isdigit() else 0
    end = start + min(size, PAGE_MAX)
    out: Body = {"models": [model_resource(o) for o in objects[start:end]]}
    if end < len(objects):
        out["nextPageToken"] = str(end)
    return out
