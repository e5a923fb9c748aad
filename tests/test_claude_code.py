"""Claude Code, the real CLI, through proxyd to a chat-only fake upstream.

The upstream first asks for a Bash tool call running ``echo``, then answers with text built from
the tool's output. Claude Code must run the tool, send its output back through the Messages API,
and finish with a result. ``CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK=1`` keeps it from silently
retrying a broken stream without streaming, which would let this test pass for the wrong reason.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from clients.install import CannotInstall, installed
from clients.versions import CLAUDE_CODE, PINNED
from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes import chat_chunk

# The last release that runs from JavaScript on Node 20; later ones ship a native binary (every pinned
# release runs in tests/test_client_matrix.py).
CLAUDE_CODE_VERSION = PINNED["claude-code"][0]
MARKER = "proxyd-claude-marker"


def claude_cli() -> list[str]:
    """Claude Code's argv, installed once into .clients/ (clients.install)."""
    try:
        return installed(CLAUDE_CODE, CLAUDE_CODE_VERSION)
    except CannotInstall as exc:
        pytest.skip(f"Claude Code cannot be installed: {exc}")


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return chat_chunk(delta, finish)


def chat_only_with(usage: dict[str, Any]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A chat server as strict as a small local one, answering only chat completions, each
    with ``usage``."""

    async def chat_only(request: web.Request) -> web.StreamResponse:
        return await _chat_only(request, usage)

    return chat_only


async def _chat_only(request: web.Request, usage: dict[str, Any]) -> web.StreamResponse:
    if not request.path.endswith("/chat/completions"):
        return web.Response(status=404, text="404 page not found")
    body = await request.json()
    tools = {t["function"]["name"] for t in body.get("tools") or []}
    last = body["messages"][-1]
    if body.get("stream") is not True:
        return web.json_response({"error": {"message": "this test expects streams only"}}, status=400)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    if last["role"] == "tool":
        seen = "saw it" if MARKER in str(last["content"]) else "did not see it"
        await resp.write(
            chunk({"role": "assistant", "content": ""}) + chunk({"content": f"The command printed {MARKER}: "})
        )
        await resp.write(chunk({"content": f"{seen}."}) + chunk({}, "stop"))
    elif "Bash" in tools:
        arguments = json.dumps({"command": f"echo {MARKER}", "description": "Print the marker"})
        call = {"index": 0, "id": "call_cc1", "type": "function", "function": {"name": "Bash", "arguments": arguments}}
        await resp.write(chunk({"role": "assistant", "content": "I will run it."}) + chunk({"tool_calls": [call]}))
        await resp.write(chunk({}, "tool_calls"))
    else:  # background work (a title, a topic check): plain text
        await resp.write(chunk({"content": '{"title": "echo"}'}) + chunk({}, "stop"))
    await resp.write(f"data: {json.dumps({'id': 'c1', 'choices': [], 'usage': usage})}\n\ndata: [DONE]\n\n".encode())
    return resp


chat_only = chat_only_with({"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60})


@pytest.fixture
async def claude_proxy(proxy_factory: Any, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = chat_only
    client: ProxyClient = await proxy_factory(
        {
            "providers": [
                {
                    "name": "local",
                    "base_url": upstream.base_url,
                    "wire": "chat",
                    "models": [{"id": "qwen3-coder", "alias": "claude-*"}],
                }
            ]
        }
    )
    return client


async def test_claude_code_runs_a_tool_through_proxyd(
    claude_proxy: ProxyClient, upstream: FakeUpstream, tmp_path: Path
) -> None:
    events = await run_claude(claude_proxy.origin, tmp_path)
    tool_results = [
        block for e in events if e.get("type") == "user"
        for block in e["message"]["content"] if isinstance(block, dict) and block.get("type") == "tool_result"
    ]  # fmt: skip
    assert tool_results and MARKER in json.dumps(tool_results[0]["content"]) and not tool_results[0].get("is_error")
    result = events[-1]
    assert result["type"] == "result" and result["subtype"] == "success" and not result["is_error"]
    assert result["result"].endswith(f"The command printed {MARKER}: saw it.")
    turns = [s for s in upstream.seen if s.path == "/v1/chat/completions" and "Bash" in s.body.decode()]
    assert len(turns) >= 2  # the tool call, then the turn with its result


async def run_claude(origin: str, tmp_path: Path) -> list[dict[str, Any]]:
    """Claude Code's stream-json events for one task (run echo, say what it printed) through ``origin``."""
    program = await asyncio.to_thread(claude_cli)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": origin,
        "ANTHROPIC_API_KEY": "sk-ant-dummy", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
    }  # fmt: skip
    args = [*program, "-p", "Run echo and tell me what it printed.", "--output-format", "stream-json",
            "--verbose", "--allowedTools", "Bash"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=work, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == 0, (out.decode()[-3000:], err.decode()[-2000:])
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
