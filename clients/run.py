"""One client release through a real ``proxyd serve`` to one provider wire: a tool-using task.

The fake provider (:class:`clients.agents.Agent`) asks for the shell tool, the client runs
``echo MARKER`` and sends the output back, and the provider answers with it. The run passes when
the client exited 0, its tool printed the marker, and its last answer is the provider's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from clients.agents import ANSWER, MARKER, Agent, serving
from tests.helpers import start_serve

TIMEOUT_S = 240


@dataclass(frozen=True)
class Outcome:
    client: str
    version: str
    wire: str
    ok: bool
    detail: str  # what failed, in a line; "" when it passed
    seconds: float


async def run_one(client: str, version: str, wire: str, program: list[str], work: Path) -> Outcome:
    """``program`` (the release's argv, installed) through proxyd to a fake ``wire`` provider."""
    started = time.monotonic()
    agent = Agent(wire)
    async with serving(agent) as upstream:
        config = work / "proxyd.yaml"
        config.write_text(_config(wire, upstream))
        proc, url = await start_serve(config, env={"XDG_STATE_HOME": str(work / "state")})
        assert proc.stderr is not None
        drain = asyncio.create_task(proc.stderr.read())  # proxyd's log must not fill its pipe
        try:
            run = {"claude-code": claude_code, "gemini-cli": gemini_cli}.get(client, codex)
            ok, detail = await run(program, url.removesuffix("/v1"), work)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
            drain.cancel()
    if ok and not agent.seen:
        ok, detail = False, "the provider was never called"
    return Outcome(client, version, wire, ok, detail, round(time.monotonic() - started, 1))


def _config(wire: str, upstream: str) -> str:
    base = upstream if wire == "anthropic" else upstream + ("/v1beta" if wire == "gemini" else "/v1")
    # Claude Code names Anthropic models (claude-sonnet-4-6, claude-haiku-4-5-...): every one goes to the fake.
    return (
        "health: {interval_s: 0}\ndefault_provider: agent\nproviders:\n"
        f"  - name: agent\n    base_url: {base}\n    wire: {wire}\n    api_key: sk-fake-provider-key\n"
        "    models: [{id: agent-model, alias: 'claude-*'}]\n"
    )


async def claude_code(program: list[str], origin: str, work: Path) -> tuple[bool, str]:
    """Claude Code ``-p`` with its Bash tool against ``origin``; whether it did the task, and why not."""
    home, cwd = work / "home", work / "work"
    home.mkdir(exist_ok=True)
    cwd.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": origin,
        "ANTHROPIC_API_KEY": "sk-ant-dummy", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
    }  # fmt: skip
    args = [*program, "-p", "Run echo and tell me what it printed.", "--output-format", "stream-json", "--verbose",
            "--allowedTools", "Bash"]  # fmt: skip
    code, out, err = await _run(args, env, cwd)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    results = [b for e in events if e.get("type") == "user" for b in e["message"]["content"]
               if isinstance(b, dict) and b.get("type") == "tool_result"]  # fmt: skip
    final = events[-1] if events else {}
    if code != 0 or final.get("subtype") != "success":
        return False, f"exit {code}: {(final.get('result') or err or out)[-300:]}"
    if not results or MARKER not in json.dumps(results[0].get("content")) or results[0].get("is_error"):
        return False, "the Bash tool did not print the marker"
    if not str(final.get("result", "")).endswith(ANSWER):
        return False, f"the last answer was {str(final.get('result'))[-200:]!r}"
    return True, ""


async def gemini_cli(program: list[str], origin: str, work: Path) -> tuple[bool, str]:
    """Gemini CLI ``-p`` in yolo mode (its shell tool runs unasked) against ``origin``; as :func:`claude_code`."""
    home, cwd = work / "gemini-home", work / "work"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    cwd.mkdir(exist_ok=True)
    # With a base URL, headless Gemini CLI needs the key's auth type chosen (else exit 41).
    settings = {"security": {"auth": {"selectedType": "gemini-api-key"}}, "general": {"disableAutoUpdate": True},
                "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False}}  # fmt: skip
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "GOOGLE_GEMINI_BASE_URL": origin,
           "GEMINI_API_KEY": "anything", "GEMINI_CLI_NO_RELAUNCH": "true",
           "GEMINI_CLI_TRUST_WORKSPACE": "true"}  # fmt: skip
    args = [*program, "-p", "Run echo and tell me what it printed.", "--approval-mode", "yolo",
            "--output-format", "json", "-m", "gemini-2.5-pro"]  # fmt: skip
    code, out, err = await _run(args, env, cwd)
    start = out.find("{")
    try:
        answer = json.loads(out[start:]) if start >= 0 else {}
    except ValueError:
        answer = {}
    said = str(answer.get("response") or "").strip()
    if code != 0:
        return False, f"exit {code}: {(err or out)[-300:]}"
    if not said.endswith(ANSWER):  # the fake says "saw it" only when the tool's output held the marker
        return False, f"the last answer was {said[-200:]!r}"
    return True, ""


async def codex(program: list[str], origin: str, work: Path) -> tuple[bool, str]:
    """``codex exec`` against ``origin`` (a Responses provider named proxyd); as :func:`claude_code`."""
    home, cwd = work / "codex-home", work / "work"
    home.mkdir(exist_ok=True)
    cwd.mkdir(exist_ok=True)
    provider = f'{{name="proxyd", base_url="{origin}/v1", wire_api="responses", env_key="PROXYD_API_KEY"}}'
    args = [
        *program, "exec", "--skip-git-repo-check", "--ephemeral", "--json",
        "-c", 'model_provider="proxyd"', "-c", 'model="agent/agent-model"', "-c", f"model_providers.proxyd={provider}",
        "-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false", "-c", "feedback.enabled=false",
        "--disable", "apps", "--disable", "plugins",
        "--dangerously-bypass-approvals-and-sandbox",  # no usable sandbox in a container
        "-C", str(cwd), "Run echo and tell me what it printed.",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home), "PROXYD_API_KEY": "anything"}
    code, out, err = await _run(args, env, cwd)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    items = [e["item"] for e in events if e.get("type") == "item.completed"]
    commands = [i for i in items if i.get("type") == "command_execution"]
    answers = [i.get("text") for i in items if i.get("type") == "agent_message"]
    if code != 0:
        return False, f"exit {code}: {err[-300:]}"
    if not commands or MARKER not in str(commands[0].get("aggregated_output")):
        return False, "the command did not print the marker"
    if answers[-1:] != [ANSWER]:
        return False, f"the last answer was {answers[-1:]!r}"
    return True, ""


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return -1, "", f"no end within {TIMEOUT_S} s"
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
