"""The echo fakes: a provider on each wire that answers "Hello! You said: <the last user text>"
(or a tool call, thinking, a cut or broken stream, as the text asks: see :func:`answer_for`),
each as strict as its API about what it takes and about unknown paths."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxyd.wires.responses.replay import response_to_sse
from tests.fakes import chat_chunk
from tests.fakes.anthropic import anthropic_server


def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
    return chat_chunk(delta, finish, chunk_id="chatcmpl-1", **extra)


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def answer_for(chat: dict[str, Any]) -> tuple[list[bytes], dict[str, Any]]:
    """What the fake chat server says, decided by the last user message: (stream chunks, JSON)."""
    last = chat["messages"][-1]
    said = last.get("content") if last["role"] == "user" else "tool-output"
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    if said == "call a tool":
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"echo hi"}'}}
        ]
        finish = "tool_calls"
        chunks = [chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": ""}}]}),
                  chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"cmd":"echo hi"}'}}]})]  # fmt: skip
    elif said == "call two tools":
        message["tool_calls"] = [
            {"id": "call_a", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"ls"}'}},
            {"id": "call_b", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"pwd"}'}},
        ]
        finish = "tool_calls"
        chunks = [chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":'}}]}),
                  chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"pwd"}'}}]}),
                  chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"ls"}'}}]})]  # fmt: skip
    elif said == "think":
        message["content"], message["reasoning_content"] = "42", "Let me think."
        chunks = [chunk({"reasoning_content": "Let me think."}), chunk({"content": "42"})]
    elif said == "long":
        message["content"], finish = "It was the best of", "length"
        chunks = [chunk({"content": "It was the best of"})]
    elif said == "break":
        return [chunk({"content": "Half"}), b'data: {"error": {"message": "CUDA error: out of memory"}}\n\n'], {}
    else:
        message["content"] = f"Hello! You said: {said}"
        chunks = [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hello! "}),
            chunk({"content": f"You said: {said}"}),
        ]
    chunks += [chunk({}, finish), chunk(None, usage=USAGE), b"data: [DONE]\n\n"]
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return chunks, {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": chat["model"],
        "choices": [choice],
        "usage": USAGE,
    }


async def answer_chat(request: web.Request, chat: dict[str, Any]) -> web.StreamResponse:
    """The fake chat server's answer to ``chat``: JSON, or a stream when it asked for one."""
    chunks, completion = answer_for(chat)
    if not chat.get("stream"):
        return web.json_response(completion)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for piece in chunks:
        await resp.write(piece)
    return resp


async def chat_server(request: web.Request) -> web.StreamResponse:
    """A chat-only server: Go's plain-text 404 for any other path."""
    if not request.path.endswith("/chat/completions"):
        return web.Response(status=404, text="404 page not found")
    return await answer_chat(request, await request.json())


async def responses_server(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/responses"):
        return web.json_response({"error": {"message": "Invalid URL", "type": "invalid_request_error"}}, status=404)
    body = await request.json()
    chat_like = {"model": body["model"], "messages": [{"role": "user", "content": _last_text(body["input"])}]}
    _, completion = answer_for(chat_like)
    message = completion["choices"][0]["message"]
    output: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        output.append(
            {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": message["reasoning_content"]}],
            }
        )
    if message.get("content"):
        output.append({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": message["content"], "annotations": []}]})  # fmt: skip
    for i, call in enumerate(message.get("tool_calls") or []):
        output.append({"id": f"fc_{i}", "type": "function_call", "status": "completed", "call_id": call["id"],
                       "name": call["function"]["name"], "arguments": call["function"]["arguments"]})  # fmt: skip
    response = {"id": "resp_up", "object": "response", "created_at": 1, "model": body["model"], "status": "completed",
                "output": output, "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}  # fmt: skip
    if not body.get("stream"):
        return web.json_response(response)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(response_to_sse(response))
    return resp


def _last_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    for item in reversed(raw):
        if item.get("type") == "function_call_output":
            return "tool-output"
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content)
    return ""


SERVERS = {"chat": chat_server, "responses": responses_server, "anthropic": anthropic_server}
