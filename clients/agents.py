"""Fake providers that play an agent's model on each wire, as strict as the real APIs.

Every one does the same: offered a shell tool (Claude Code's ``Bash``, Codex's ``exec_command``
or ``shell``), it calls it with ``echo MARKER``; given the tool's result, it answers
``The command printed MARKER: saw it.`` (or ``did not see it``); asked for anything else (a
session title, a topic check) it answers short text. Each refuses what its API refuses, with
that API's error body (the strict checks of :mod:`tests.fakes.scripted` and
:mod:`tests.fakes.anthropic`), streams in small pieces, and records every request it was sent.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.anthropic import anthropic_error, validate_anthropic
from tests.fakes.gemini import gemini_error, gemini_problem
from tests.fakes.scripted import (
    Script,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_problem,
    chat_stream,
    response_object,
    responses_stream,
    send_stream,
)

MARKER = "proxyd-agent-marker"
ANSWER = f"The command printed {MARKER}: saw it."
# The shell tools of the clients, and the arguments that run echo with each.
SHELLS: dict[str, dict[str, Any]] = {
    "Bash": {"command": f"echo {MARKER}", "description": "Print the marker"},
    "exec_command": {"cmd": f"echo {MARKER}"},
    "shell": {"command": ["bash", "-lc", f"echo {MARKER}"]},
    "run_shell_command": {"command": f"echo {MARKER}", "description": "Print the marker"},  # Gemini CLI's
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def script(tools: list[str], result: str | None) -> Script:
    """What the model does next: answer a tool's result, call the shell, or say something short."""
    if result is not None:
        return Script(text=f"The command printed {MARKER}: {'saw it' if MARKER in result else 'did not see it'}.")
    shell = next((name for name in SHELLS if name in tools), None)
    if shell is None:
        return Script(text='{"title": "Print the marker", "isNewTopic": true}')
    return Script(calls=((shell, json.dumps(SHELLS[shell])),))


def text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            text_of(p.get("text", p.get("content", p.get("output", "")))) for p in content if isinstance(p, dict)
        )
    return json.dumps(content)


@dataclass
class Agent:
    """One wire's fake model, and what it was sent."""

    wire: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path.endswith("/models"):
            return web.json_response({"object": "list", "data": [{"id": "agent-model", "object": "model"}]})
        handlers = {"chat": self._chat, "responses": self._responses, "anthropic": self._anthropic,
                    "gemini": self._gemini}  # fmt: skip
        return await handlers[self.wire](request)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return web.json_response({"detail": "Not Found"}, status=404)
        body = await request.json()
        self.seen.append(body)
        problem = chat_problem(body)
        if problem:
            return web.json_response({"object": "error", "message": problem, "type": "BadRequestError", "code": 400},
                                     status=400)  # fmt: skip
        last = body["messages"][-1]
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        plan = script(tools, text_of(last.get("content")) if last.get("role") == "tool" else None)
        if not body.get("stream"):
            return web.json_response(chat_completion(body["model"], plan))
        usage = (body.get("stream_options") or {}).get("include_usage") is True
        return await _stream(request, chat_stream(body["model"], plan, usage))

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST" or not request.path.endswith("/responses"):
            return _openai_error(404, "Invalid URL", None)
        body = await request.json()
        self.seen.append(body)
        problem, param = responses_problem(body)
        if problem:
            return _openai_error(400, problem, param)
        items = body["input"] if isinstance(body["input"], list) else [{"type": "message", "content": body["input"]}]
        last = items[-1]
        result = (
            text_of(last.get("output"))
            if last.get("type") in ("function_call_output", "custom_tool_call_output")
            else None
        )
        tools = [str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)]
        plan = script(tools, result)
        if not body.get("stream"):
            return web.json_response(response_object(body["model"], plan))
        return await _stream(request, responses_stream(body["model"], plan))

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST" or not request.path.endswith("/messages"):
            return _anthropic_error(404, "not_found_error", "Not found")
        if not request.headers.get("anthropic-version"):
            return _anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        body = await request.json()
        self.seen.append(body)
        problem = validate_anthropic(body)
        if problem:
            return _anthropic_error(400, "invalid_request_error", problem)
        last = body["messages"][-1]["content"]
        results = (
            [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"]
            if isinstance(last, list)
            else []
        )
        tools = [str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)]
        plan = script(tools, text_of(results[-1].get("content")) if results else None)
        if not body.get("stream"):
            return web.json_response(anthropic_message(body["model"], plan))
        return await _stream(request, anthropic_stream(body["model"], plan))

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        found = _GEMINI_PATH.match(request.path)
        if request.method != "POST" or found is None:
            return _gemini_error(404, "NOT_FOUND", "Requested entity was not found.")
        body = await request.json()
        self.seen.append(body)
        problem = gemini_problem(found.group(1), body)
        if problem:
            return _gemini_error(400, "INVALID_ARGUMENT", problem)
        last = body["contents"][-1]["parts"]
        results = [p["functionResponse"].get("response") for p in last if "functionResponse" in p]
        tools = [str(d.get("name")) for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        plan = script(tools, text_of(json.dumps(results[-1])) if results else None)
        chunks = gemini_chunks(plan)
        if found.group(2) == "generateContent":  # the whole answer: every part in one chunk
            parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
            whole = {
                **chunks[-1],
                "candidates": [{**chunks[-1]["candidates"][0], "content": {"role": "model", "parts": parts}}],
            }
            return web.json_response(whole)
        return await _stream(request, b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks))


_GEMINI_PATH = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)$")


def gemini_chunks(plan: Script) -> list[dict[str, Any]]:
    """The plan as Gemini's stream: text in small pieces, a call whole, the finish with usage last."""
    parts: list[dict[str, Any]] = [{"text": plan.text[i : i + 8]} for i in range(0, len(plan.text or ""), 8)]
    parts += [{"functionCall": {"name": name, "args": json.loads(arguments)}} for name, arguments in plan.calls]
    chunks: list[dict[str, Any]] = [{"candidates": [{"content": {"role": "model", "parts": [p]}, "index": 0}]}
                                    for p in parts]  # fmt: skip
    chunks[-1]["candidates"][0]["finishReason"] = "STOP"
    chunks[-1]["usageMetadata"] = {"promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30}
    return chunks


_ITEMS = {"message", "function_call", "function_call_output", "reasoning", "custom_tool_call",
          "custom_tool_call_output", "local_shell_call", "local_shell_call_output"}  # fmt: skip


def responses_problem(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """What OpenAI's Responses API would refuse in this request (its words), or (None, None)."""
    if not isinstance(body.get("model"), str):
        return "Missing required parameter: 'model'.", "model"
    raw = body.get("input")
    if not isinstance(raw, str | list):
        return "Missing required parameter: 'input'.", "input"
    calls: set[str] = set()
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind not in _ITEMS:
            return f"Invalid value: '{kind}'. Supported values are: {', '.join(sorted(_ITEMS))}.", f"input[{i}].type"
        if kind in ("function_call", "custom_tool_call"):
            calls.add(str(item.get("call_id")))
        if kind in ("function_call_output", "custom_tool_call_output") and str(item.get("call_id")) not in calls:
            return f"No tool call found for function call output with call_id {item.get('call_id')}.", "input"
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not tool.get("type"):
            return "Missing required parameter: 'tools[{i}].type'.", f"tools[{i}].type"
    return None, None


async def _stream(request: web.Request, body: bytes) -> web.StreamResponse:
    resp: web.StreamResponse = await send_stream(request, body)
    return resp


def _gemini_error(status: int, name: str, message: str) -> web.Response:
    resp: web.Response = gemini_error(status, name, message)
    return resp


def _anthropic_error(status: int, kind: str, message: str) -> web.Response:
    resp: web.Response = anthropic_error(status, kind, message)
    return resp


def _openai_error(status: int, message: str, param: str | None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                        "code": None}}, status=status)  # fmt: skip


@contextlib.asynccontextmanager
async def serving(agent: Agent) -> AsyncIterator[str]:
    """``agent`` on a free loopback port while the block runs: its origin (``http://127.0.0.1:N``)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", agent.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
