"""A fake of Anthropic's Messages API: as strict as the real one about paths, keys, the
version header and bodies (:func:`validate_anthropic`), answering as :mod:`tests.fakes.echo` does."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from proxyd.sse import encode_event


def anthropic_error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)


def validate_anthropic(body: dict[str, Any]) -> str | None:
    """What Anthropic's API would refuse in this request, or None."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    seen_tools: set[str] = set()
    for i, message in enumerate(body.get("messages") or []):
        # A system message inside messages is taken (Claude Code 2.1.328 sends its environment so)
        if message.get("role") not in ("user", "assistant", "system"):
            return f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
        blocks = message["content"] if isinstance(message["content"], list) else []
        for block in blocks:
            if block.get("type") == "tool_use":
                seen_tools.add(block["id"])
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in seen_tools:
                return f"messages.{i}: unexpected tool_use_id found in tool_result blocks"
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{i}: text content blocks must be non-empty"
    marked = sum(
        1 for b in (body.get("system") if isinstance(body.get("system"), list) else []) if b.get("cache_control")
    )
    marked += sum(1 for t in body.get("tools") or [] if t.get("cache_control"))
    marked += sum(1 for m in body.get("messages") or [] if isinstance(m.get("content"), list)
                  for b in m["content"] if b.get("cache_control"))  # fmt: skip
    if marked > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {marked}."
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens", 0)
        if budget < 1024 or budget >= body["max_tokens"]:
            return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
        if body.get("temperature") is not None:
            return "temperature may only be set to 1 when thinking is enabled"
    return None


async def anthropic_request(request: web.Request, key: str | None = None) -> dict[str, Any] | web.Response:
    """The body of a request Anthropic's API would take, or the error it would answer instead
    (unknown path, wrong ``key`` when one is asked, no ``anthropic-version``, a refused body)."""
    if not request.path.endswith("/messages"):
        return anthropic_error(404, "not_found_error", "Not found")
    if key is not None and request.headers.get("x-api-key") != key:
        return anthropic_error(401, "authentication_error", "invalid x-api-key")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", request.headers.get("anthropic-version", "")):
        return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
    body = await request.json()
    problem = validate_anthropic(body)
    return anthropic_error(400, "invalid_request_error", problem) if problem else body


def anthropic_events(
    text: str, *, tool: dict[str, Any] | None = None, thinking: str = "", stop: str = "end_turn"
) -> bytes:
    message = {
        "id": "msg_up1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-x",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    index = 0
    if thinking:
        events += [
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": thinking}},
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": "sig-abc"},
            },
            {"type": "content_block_stop", "index": index},
        ]
        index += 1
    if text:
        events += [
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}},
            {"type": "content_block_stop", "index": index},
        ]
        index += 1
    if tool:
        events += [
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool["input"])[:5]},
            },
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool["input"])[5:]},
            },
            {"type": "content_block_stop", "index": index},
        ]
    events += [{"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 7}},
               {"type": "message_stop"}]  # fmt: skip
    return b"".join(encode_event(json.dumps(e), e["type"]) for e in events)


async def anthropic_server(request: web.Request) -> web.StreamResponse:
    if request.path.endswith("/messages/count_tokens"):
        counted = await request.json()
        return web.json_response({"input_tokens": len(json.dumps(counted["messages"])) // 4})
    body = await anthropic_request(request, key="sk-ant-test")
    if isinstance(body, web.Response):
        return body
    last = body["messages"][-1]
    said = (
        last["content"]
        if isinstance(last["content"], str)
        else next((b.get("text") for b in last["content"] if b.get("type") == "text"), "tool-output")
    )
    tool = {"name": "exec_command", "input": {"cmd": "echo hi"}} if said == "call a tool" else None
    stream = anthropic_events("" if tool else f"Hello! You said: {said}", tool=tool, thinking="Let me think." if said == "think" else "",
                              stop="tool_use" if tool else "end_turn")  # fmt: skip
    if not body.get("stream"):
        return web.json_response(whole_message(stream))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(stream)
    return resp


def whole_message(stream: bytes) -> dict[str, Any]:
    events = [json.loads(line[6:]) for line in stream.decode().splitlines() if line.startswith("data: ")]
    message = events[0]["message"]
    blocks: list[dict[str, Any]] = []
    for e in events:
        if e["type"] == "content_block_start":
            blocks.append(dict(e["content_block"]))
        elif e["type"] == "content_block_delta":
            d, b = e["delta"], blocks[-1]
            if d["type"] == "text_delta":
                b["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                b["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                b["signature"] = d["signature"]
            else:
                b["_json"] = b.get("_json", "") + d["partial_json"]
    for b in blocks:
        if "_json" in b:
            b["input"] = json.loads(b.pop("_json"))
    final = next(e for e in events if e["type"] == "message_delta")
    return {**message, "content": blocks, "stop_reason": final["delta"]["stop_reason"],
            "usage": {**message["usage"], "output_tokens": final["usage"]["output_tokens"]}}  # fmt: skip
