"""Each client wire's request with tools, and its answer read back into one form to compare."""

from __future__ import annotations

import json
from typing import Any

from tests.toolcalls.shapes import TOOLS

ENDPOINTS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "anthropic": "/v1/messages"}
HEADERS = {"anthropic": {"anthropic-version": "2023-06-01"}}


def tools_for(wire: str) -> list[dict[str, Any]]:
    if wire == "chat":
        return TOOLS
    if wire == "responses":
        return [{"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]}
                for t in TOOLS]  # fmt: skip
    return [{"name": t["function"]["name"], "input_schema": t["function"]["parameters"]} for t in TOOLS]


def request_for(wire: str, model: str, said: str, stream: bool, tools: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "stream": stream}
    if wire == "responses":
        body["input"] = said
    else:
        body["messages"] = [{"role": "user", "content": said}]
    if wire == "anthropic":
        body["max_tokens"] = 500
    if wire == "chat" and stream:
        body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = tools_for(wire)
    return body


def events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines()
            if line.startswith("data: ") and line[6:].strip() != "[DONE]"]  # fmt: skip


def read_answer(wire: str, raw: bytes, stream: bool) -> dict[str, Any]:
    """{text, calls: [(name, arguments text)], finish, ids} from any wire, streamed or whole."""
    if wire == "chat":
        return _chat_stream(events(raw)) if stream else _chat_whole(json.loads(raw))
    if wire == "responses":
        response = next(e["response"] for e in events(raw) if e["type"] == "response.completed") if stream else None
        return _response(response or json.loads(raw))
    return _anthropic_stream(events(raw)) if stream else _anthropic_whole(json.loads(raw))


def _chat_whole(body: dict[str, Any]) -> dict[str, Any]:
    choice = body["choices"][0]
    calls = choice["message"].get("tool_calls") or []
    return {"text": choice["message"].get("content") or "", "finish": choice["finish_reason"],
            "calls": [(c["function"]["name"], c["function"]["arguments"]) for c in calls],
            "ids": [c["id"] for c in calls]}  # fmt: skip


def _chat_stream(items: list[dict[str, Any]]) -> dict[str, Any]:
    text, calls, finish = "", {}, None
    for item in items:
        assert "error" not in item, item
        for choice in item.get("choices") or []:
            delta = choice.get("delta") or {}
            text += delta.get("content") or ""
            for piece in delta.get("tool_calls") or []:
                call = calls.setdefault(piece["index"], {"id": None, "name": "", "arguments": ""})
                call["id"] = call["id"] or piece.get("id")
                call["name"] += (piece.get("function") or {}).get("name") or ""
                call["arguments"] += (piece.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    ordered = [calls[i] for i in sorted(calls)]
    return {"text": text, "finish": finish, "calls": [(c["name"], c["arguments"]) for c in ordered],
            "ids": [c["id"] for c in ordered]}  # fmt: skip


def _response(response: dict[str, Any]) -> dict[str, Any]:
    text = "".join(p["text"] for item in response["output"] if item["type"] == "message" for p in item["content"])
    calls = [item for item in response["output"] if item["type"] == "function_call"]
    return {"text": text, "finish": response["status"], "calls": [(c["name"], c["arguments"]) for c in calls],
            "ids": [c["call_id"] for c in calls]}  # fmt: skip


def _anthropic_whole(message: dict[str, Any]) -> dict[str, Any]:
    blocks = message["content"]
    calls = [b for b in blocks if b["type"] == "tool_use"]
    return {"text": "".join(b["text"] for b in blocks if b["type"] == "text"), "finish": message["stop_reason"],
            "calls": [(b["name"], json.dumps(b["input"]) if not isinstance(b["input"], str) else b["input"])
                      for b in calls], "ids": [b["id"] for b in calls]}  # fmt: skip


def _anthropic_stream(items: list[dict[str, Any]]) -> dict[str, Any]:
    blocks: dict[int, dict[str, Any]] = {}
    finish = None
    for e in items:
        assert e["type"] != "error", e
        if e["type"] == "content_block_start":
            blocks[e["index"]] = {**e["content_block"], "partial": ""}
        elif e["type"] == "content_block_delta":
            delta, block = e["delta"], blocks[e["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                block["partial"] += delta["partial_json"]
        elif e["type"] == "message_delta":
            finish = e["delta"]["stop_reason"]
    ordered = [blocks[i] for i in sorted(blocks)]
    calls = [b for b in ordered if b["type"] == "tool_use"]
    return {"text": "".join(b["text"] for b in ordered if b["type"] == "text"), "finish": finish,
            "calls": [(b["name"], b["partial"]) for b in calls], "ids": [b["id"] for b in calls]}  # fmt: skip
