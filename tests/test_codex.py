"""OpenAI Codex CLI, the real binary, through proxyd to a chat-only fake upstream.

The upstream first asks for a tool call (``exec_command`` running ``echo``), then answers with
text built from the tool's output. Codex must run the tool, send its output back through the
Responses API, and finish with exit code 0.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from clients.install import CannotInstall, installed
from clients.versions import CODEX, PINNED
from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes import chat_chunk

CODEX_VERSION = PINNED["codex"][0]  # every pinned release runs in tests/test_client_matrix.py
MARKER = "proxyd-e2e-marker"


def codex_binary() -> list[str]:
    """Codex's argv, installed once into .clients/ (clients.install)."""
    try:
        return installed(CODEX, CODEX_VERSION)
    except CannotInstall as exc:
        pytest.skip(f"the Codex CLI cannot be installed: {exc}")


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return chat_chunk(delta, finish)


async def chat_only(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/chat/completions"):
        return web.Response(status=404, text="404 page not found")
    body = await request.json()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    last = body["messages"][-1]
    if last["role"] == "tool":
        seen = "saw it" if MARKER in last["content"] else "did not see it"
        await resp.write(chunk({"content": f"The command printed {MARKER}: {seen}."}) + chunk({}, "stop"))
    else:
        arguments = json.dumps({"cmd": f"echo {MARKER}"})
        call = {
            "index": 0,
            "id": "call_e2e",
            "type": "function",
            "function": {"name": "exec_command", "arguments": arguments},
        }
        await resp.write(chunk({"tool_calls": [call]}) + chunk({}, "tool_calls"))
    await resp.write(b"data: [DONE]\n\n")
    return resp


@pytest.fixture
async def codex_proxy(proxy_factory: Any, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = chat_only
    # wire: auto, so the same run also proves the fallback from /responses to chat.
    client: ProxyClient = await proxy_factory(
        {"providers": [{"name": "local", "base_url": upstream.base_url, "wire": "auto"}]}
    )
    return client


async def run_codex(origin: str, tmp_path: Path) -> list[dict[str, Any]]:
    """``codex exec`` through proxyd; its JSON events, after checking it exited cleanly."""
    program = await asyncio.to_thread(codex_binary)
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    provider = f'{{name="proxyd", base_url="{origin}/v1", wire_api="responses", env_key="PROXYD_API_KEY"}}'
    args = [
        *program, "exec", "--skip-git-repo-check", "--ephemeral", "--json",
        "-c", 'model_provider="proxyd"', "-c", 'model="local/qwen3-coder"', "-c", f"model_providers.proxyd={provider}",
        "-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false", "-c", "feedback.enabled=false",
        "--disable", "apps", "--disable", "plugins",
        "--dangerously-bypass-approvals-and-sandbox",  # tests only: no usable sandbox in this container
        "-C", str(work), "Run echo and tell me what it printed.",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home), "PROXYD_API_KEY": "anything"}
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()[-2000:]
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


def ran_echo_and_answered(events: list[dict[str, Any]]) -> None:
    items = [e["item"] for e in events if e.get("type") == "item.completed"]
    commands = [i for i in items if i["type"] == "command_execution"]
    assert commands and commands[0]["exit_code"] == 0 and MARKER in commands[0]["aggregated_output"]
    answer = [i["text"] for i in items if i["type"] == "agent_message"]
    assert answer == [f"The command printed {MARKER}: saw it."]
    assert events[-1]["type"] == "turn.completed"


async def test_codex_exec_runs_a_tool_through_proxyd(
    codex_proxy: ProxyClient, upstream: FakeUpstream, tmp_path: Path
) -> None:
    ran_echo_and_answered(await run_codex(codex_proxy.origin, tmp_path))
    paths = [s.path for s in upstream.seen]
    assert paths == ["/v1/responses", "/v1/chat/completions", "/v1/chat/completions"]  # probed once, then remembered


async def chat_template_model(request: web.Request) -> web.StreamResponse:
    """A chat server without its tool parser: the model's call arrives as Hermes text, token by token."""
    if not request.path.endswith("/chat/completions"):
        return web.Response(status=404, text="404 page not found")
    body = await request.json()
    last = body["messages"][-1]
    if last["role"] == "tool":
        return await chat_only(request)
    call = json.dumps({"name": "exec_command", "arguments": {"cmd": f"echo {MARKER}"}})
    text = f"<tool_call>\n{call}\n</tool_call>"
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for i in range(0, len(text), 3):
        await resp.write(chunk({"content": text[i : i + 3]}))
    await resp.write(chunk({}, "stop") + b"data: [DONE]\n\n")
    return resp


async def test_codex_works_with_a_model_that_writes_its_calls_as_text(
    proxy_factory: Any, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.handler = chat_template_model
    client = await proxy_factory(
        {"providers": [{"name": "local", "base_url": upstream.base_url, "wire": "chat",
                        "tool_calls": {"repair": True}}]}
    )  # fmt: skip
    ran_echo_and_answered(await run_codex(client.origin, tmp_path))
    metrics = await (await client.get("/metrics")).text()
    assert 'proxyd_tool_calls_total{model="other",provider="local",result="repaired"} 1.0' in metrics
