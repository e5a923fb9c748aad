"""Fake providers whose "model" says what the test scripts, on each wire, as strict as the APIs.

The last user message picks the script: ``text:ID`` answers with the text of an in-text shape,
``call:ID`` with one proper call from :data:`BAD_CALLS`, ``plain`` with prose; a turn ending
in a tool result is answered ``done: <result>``. Each server refuses what its API refuses (the
chat server: tool results that answer no call, malformed tools; Anthropic's: see
:func:`tests.fakes.anthropic.anthropic_request`) and answers unknown paths as its server does.
Streams come in small pieces, as servers send tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes import chat_chunk
from tests.fakes.anthropic import anthropic_request
from tests.toolcalls.shapes import BAD_CALLS, IN_TEXT

PIECE = 6  # characters per streamed delta
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


@dataclass(frozen=True)
class Script:
    text: str = ""
    calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as the model wrote them)


def script_for(said: str) -> Script:
    kind, _, key = said.partition(":")
    if kind == "text":
        return Script(text=next(s.text for s in IN_TEXT if s.id == key))
    if kind == "call":
        bad = next(c for c in BAD_CALLS if c.id == key)
        return Script(calls=((bad.name, bad.arguments),))
    if kind == "done":
        return Script(text=said)
    return Script(text="It is sunny in Paris.")


def pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)]


def sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


async def send_stream(request: web.Request, body: bytes) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(body)
    return resp


# --- chat (vLLM, llama.cpp, Ollama: the OpenAI shape) ----------------------------------------------


def chat_problem(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list) or not body["messages"]:
        return "model and messages are required"
    for i, tool in enumerate(body.get("tools") or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return f"Missing required parameter: 'tools[{i}].function'"
    pending: set[str] = set()
    for message in body["messages"]:
        if message.get("role") == "tool":
            if message.get("tool_call_id") not in pending:
                return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
            pending.discard(message["tool_call_id"])
        elif pending:
            return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'."
        for call in message.get("tool_calls") or []:
            json.loads(call["function"]["arguments"])  # OpenAI refuses history whose arguments are not JSON
            pending.add(call["id"])
    return None


def chat_said(body: dict[str, Any]) -> str:
    last = body["messages"][-1]
    if last.get("role") == "tool":
        return f"done: {last.get('content')}"
    content = last.get("content")
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])


def chat_completion(model: str, script: Script) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": script.text or None}
    if script.calls:
        message["tool_calls"] = [{"id": f"call_up{i}", "type": "function", "function": {"name": n, "arguments": a}}
                                 for i, (n, a) in enumerate(script.calls)]  # fmt: skip
    finish = "tool_calls" if script.calls else "stop"
    return {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": USAGE}  # fmt: skip


def chat_stream(model: str, script: Script, include_usage: bool) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return chat_chunk(delta, finish, chunk_id="chatcmpl-up", model=model)

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces(script.text)]
    for i, (name, arguments) in enumerate(script.calls):
        head = {"index": i, "id": f"call_up{i}", "type": "function", "function": {"name": name, "arguments": ""}}
        out.append(chunk({"tool_calls": [head]}))
        out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}) for p in pieces(arguments)]
    out.append(chunk({}, "tool_calls" if script.calls else "stop"))
    if include_usage:
        out.append(sse({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
                        "choices": [], "usage": USAGE}))  # fmt: skip
    return b"".join(out) + b"data: [DONE]\n\n"


async def chat_server(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/chat/completions"):
        return web.json_response({"detail": "Not Found"}, status=404)
    body = await request.json()
    problem = chat_problem(body)
    if problem:
        return web.json_response({"object": "error", "message": problem, "type": "BadRequestError", "code": 400},
                                 status=400)  # fmt: skip
    script = script_for(chat_said(body))
    if not body.get("stream"):
        return web.json_response(chat_completion(body["model"], script))
    usage = (body.get("stream_options") or {}).get("include_usage") is True
    return await send_stream(request, chat_stream(body["model"], script, usage))


# --- Responses (OpenAI's) -----------------------------------------------------------------------


def responses_said(body: dict[str, Any]) -> str:
    raw = body.get("input")
    if isinstance(raw, str):
        return raw
    last = raw[-1]
    if last.get("type") == "function_call_output":
        return f"done: {last.get('output')}"
    content = last.get("content")
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def response_object(model: str, script: Script, status: str = "completed") -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if script.text:
        output.append({"id": "msg_up", "type": "message", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": script.text, "annotations": []}]})  # fmt: skip
    for i, (name, arguments) in enumerate(script.calls):
        output.append({"id": f"fc_up{i}", "type": "function_call", "status": "completed", "call_id": f"call_up{i}",
                       "name": name, "arguments": arguments})  # fmt: skip
    return {"id": "resp_up", "object": "response", "created_at": 1, "model": model, "status": status,
            "output": output, "usage": {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}}  # fmt: skip


def responses_stream(model: str, script: Script) -> bytes:
    events: list[dict[str, Any]] = []
    started = {**response_object(model, Script()), "status": "in_progress", "output": [], "usage": None}
    events += [{"type": "response.created", "response": started}, {"type": "response.in_progress", "response": started}]
    final = response_object(model, script)
    for index, item in enumerate(final["output"]):
        events.append({"type": "response.output_item.added", "output_index": index,
                       "item": {**item, "status": "in_progress", **({"arguments": ""} if "arguments" in item else {}),
                                **({"content": []} if "content" in item else {})}})  # fmt: skip
        if item["type"] == "message":
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "part": part})  # fmt: skip
            events += [{"type": "response.output_text.delta", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "delta": p} for p in pieces(script.text)]  # fmt: skip
            events.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "text": script.text})  # fmt: skip
        else:
            events += [{"type": "response.function_call_arguments.delta", "item_id": item["id"], "output_index": index,
                        "delta": p} for p in pieces(item["arguments"])]  # fmt: skip
            events.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                           "output_index": index, "arguments": item["arguments"]})  # fmt: skip
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": final})
    return b"".join(sse({**e, "sequence_number": n}, e["type"]) for n, e in enumerate(events))


async def responses_server(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/responses"):
        return web.json_response({"error": {"message": "Invalid URL", "type": "invalid_request_error",
                                            "param": None, "code": None}}, status=404)  # fmt: skip
    body = await request.json()
    if "input" not in body or not isinstance(body.get("model"), str):
        return web.json_response({"error": {"message": "Missing required parameter: 'input'.",
                                            "type": "invalid_request_error", "param": "input", "code": None}},
                                 status=400)  # fmt: skip
    script = script_for(responses_said(body))
    if not body.get("stream"):
        return web.json_response(response_object(body["model"], script))
    return await send_stream(request, responses_stream(body["model"], script))


# --- Anthropic Messages -------------------------------------------------------------------------


def anthropic_said(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    for block in content:
        if block.get("type") == "tool_result":
            result = block.get("content")
            return f"done: {result if isinstance(result, str) else json.dumps(result)}"
    return "".join(b.get("text", "") for b in content if b.get("type") == "text")


def anthropic_stream(model: str, script: Script) -> bytes:
    message = {"id": "msg_up", "type": "message", "role": "assistant", "content": [], "model": model,
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 11, "output_tokens": 1}}  # fmt: skip
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    index = 0
    if script.text:
        events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
                   for p in pieces(script.text)]  # fmt: skip
        events.append({"type": "content_block_stop", "index": 0})
        index = 1
    for i, (name, arguments) in enumerate(script.calls, start=index):
        block = {"type": "tool_use", "id": f"toolu_up{i}", "name": name, "input": {}}
        events.append({"type": "content_block_start", "index": i, "content_block": block})
        events += [{"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": p}}
                   for p in pieces(arguments)]  # fmt: skip
        events.append({"type": "content_block_stop", "index": i})
    stop = "tool_use" if script.calls else "end_turn"
    events += [{"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 7}}, {"type": "message_stop"}]  # fmt: skip
    return b"".join(sse(e, e["type"]) for e in events)


def anthropic_message(model: str, script: Script) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": script.text}] if script.text else []
    for i, (name, arguments) in enumerate(script.calls):
        try:
            value: object = json.loads(arguments)
        except ValueError:
            value = arguments  # what an Anthropic-compatible server that passes the model's text on sends
        content.append({"type": "tool_use", "id": f"toolu_up{i}", "name": name, "input": value})
    return {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "tool_use" if script.calls else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 7}}  # fmt: skip


async def anthropic_server(request: web.Request) -> web.StreamResponse:
    body = await anthropic_request(request)
    if isinstance(body, web.Response):
        return body
    script = script_for(anthropic_said(body))
    if not body.get("stream"):
        return web.json_response(anthropic_message(body["model"], script))
    return await send_stream(request, anthropic_stream(body["model"], script))


SERVERS = {"chat": chat_server, "responses": responses_server, "anthropic": anthropic_server}
