"""``proxyd claude`` and ``proxyd codex`` with the real clients (their newest pinned releases):
nothing runs on proxyd's port, so the command starts ``proxyd serve`` in the background, then
the client does a tool-using task through it against a fake provider."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from clients.agents import ANSWER, MARKER, Agent
from clients.install import CannotInstall, installed
from clients.versions import CLAUDE_CODE, CODEX, PINNED
from tests.daemons import free_port


@pytest.fixture
async def setting(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[tuple[Path, dict[str, str], list[int]]]:
    """A config whose port nothing listens on, the environment of a fresh shell, and the PIDs of
    the background serves the commands start (stopped after the test)."""
    agent = Agent("chat")
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", agent.handle)
    server = await aiohttp_server(app)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"listen: {{port: {free_port()}}}\nhealth: {{interval_s: 0}}\ndefault_provider: agent\nproviders:\n"
        f"  - name: agent\n    base_url: {server.make_url('/v1')}\n    wire: chat\n"
        "    models: [{id: agent-model, alias: fast}]\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state"),
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1"}  # fmt: skip
    started: list[int] = []
    yield config, env, started
    for pid in started:
        os.kill(pid, signal.SIGTERM)


async def launch(client: str, config: Path, env: dict[str, str], started: list[int], *args: str) -> tuple[str, str]:
    work = config.parent / "work"
    work.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxyd", client, "--config", str(config), *args, cwd=work, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    said = err.decode()
    started += [int(pid) for pid in re.findall(r"in the background \(pid (\d+)", said)]
    assert proc.returncode == 0, said[-2000:]
    return out.decode(), said


def on_path(env: dict[str, str], client: Any, version: str) -> None:
    try:
        installed(client, version)
    except CannotInstall as exc:
        pytest.skip(f"{client.name} {version} cannot be installed here: {exc}")
    env["PATH"] = f"{client.folder(version) / 'node_modules' / '.bin'}:{env['PATH']}"


async def test_proxyd_claude_starts_serve_and_runs_a_task(setting: tuple[Path, dict[str, str], list[int]]) -> None:
    config, env, started = setting
    await asyncio.to_thread(on_path, env, CLAUDE_CODE, PINNED["claude-code"][-1])
    out, said = await launch("claude", config, env, started, "-p", "Run echo and tell me what it printed.",
                             "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash")  # fmt: skip
    assert len(started) == 1 and "main model fast, small model fast" in said
    final = json.loads(out.strip().splitlines()[-1])
    assert final["subtype"] == "success" and final["result"].endswith(ANSWER)
    # A second run finds proxyd answering and starts nothing more.
    out, said = await launch("claude", config, env, started, "-p", "Run echo.", "--output-format", "json",
                             "--allowedTools", "Bash")  # fmt: skip
    assert len(started) == 1 and "in the background" not in said and ANSWER in out


async def test_proxyd_codex_starts_serve_and_runs_a_task(setting: tuple[Path, dict[str, str], list[int]]) -> None:
    config, env, started = setting
    await asyncio.to_thread(on_path, env, CODEX, PINNED["codex"][-1])
    env["CODEX_HOME"] = env["HOME"]
    out, said = await launch("codex", config, env, started, "exec", "--skip-git-repo-check", "--ephemeral", "--json",
                             "--dangerously-bypass-approvals-and-sandbox", "Run echo and tell me what it printed.")  # fmt: skip
    assert len(started) == 1 and "(model fast)" in said
    items = [json.loads(line)["item"] for line in out.splitlines() if '"item.completed"' in line]
    assert any(MARKER in str(i.get("aggregated_output")) for i in items)
    assert [i["text"] for i in items if i["type"] == "agent_message"][-1] == ANSWER
