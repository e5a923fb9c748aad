"""`proxyd setup CLIENT`: each snippet parses in its client's own format and names real models;
--write merges into the client's file keeping what it held; and the real Codex and Claude Code
CLIs, configured only by what --write wrote, reach a chat-only server through proxyd."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxyd.config.parse import parse_config
from proxyd.onboard.clients import CLIENTS, Snippet, Target, snippet
from proxyd.onboard.setup import token_hint, write
from tests.conftest import FakeUpstream
from tests.daemons import free_port
from tests.helpers import arun, start_serve

TARGET = Target(
    "http://127.0.0.1:8787", "fast", "ollama/llama3.2:1b", ("fast", "ollama/llama3.2:1b", "ollama/qwen3:8b")
)


def parse(piece: Snippet) -> Any:
    if piece.format == "toml":
        return tomllib.loads(piece.text)
    if piece.format == "json":
        return json.loads(piece.text)
    if piece.format == "yaml":
        return yaml.safe_load(piece.text)
    if piece.format == "python":
        return compile(piece.text, piece.client, "exec")
    if piece.format == "shell":
        return subprocess.run(["bash", "-n"], input=piece.text, text=True, check=True)
    return piece.text


@pytest.mark.parametrize("client", CLIENTS)
def test_every_snippet_parses_and_names_proxyd_and_a_model(client: str) -> None:
    piece = snippet(client, TARGET)
    assert parse(piece) is not None
    assert "127.0.0.1:8787" in piece.text and "fast" in piece.text
    if piece.path is not None:
        assert piece.merge and piece.format in ("toml", "json", "yaml")


def test_write_merges_keeping_what_the_file_held(tmp_path: Path) -> None:
    codex = tmp_path / ".codex" / "config.toml"
    codex.parent.mkdir()
    codex.write_text('# my codex settings\napproval_policy = "never"\n\n[model_providers.other]\nname = "other"\n')
    write(codex, snippet("codex", TARGET))
    text = codex.read_text()
    doc = tomllib.loads(text)
    assert text.startswith("# my codex settings") and doc["approval_policy"] == "never"
    assert (
        doc["model_providers"]["other"]["name"] == "other"
        and doc["model_providers"]["proxyd"]["wire_api"] == "responses"
    )
    assert doc["model"] == "fast" and len(list(codex.parent.glob("config.toml.bak-*"))) == 1

    claude = tmp_path / ".claude" / "settings.json"
    claude.parent.mkdir()
    claude.write_text(json.dumps({"permissions": {"allow": ["Bash"]}, "env": {"FOO": "1"}}))
    write(claude, snippet("claude-code", TARGET))
    settings = json.loads(claude.read_text())
    assert settings["permissions"] == {"allow": ["Bash"]} and settings["env"]["FOO"] == "1"
    assert settings["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8787"

    llm = tmp_path / "extra-openai-models.yaml"
    llm.write_text("# mine\n- model_id: local-thing\n  model_name: x\n  api_base: http://h/v1\n")
    for _ in range(2):  # twice: the second run replaces its own entries, adds none
        write(llm, Snippet("llm", "yaml", "", str(llm), snippet("llm", TARGET).merge))
    entries = yaml.safe_load(llm.read_text())
    assert [e["model_id"] for e in entries] == [
        "local-thing",
        "proxyd-fast",
        "proxyd-ollama/llama3.2:1b",
        "proxyd-ollama/qwen3:8b",
    ]
    assert llm.read_text().startswith("# mine")

    zed = tmp_path / "settings.json"
    zed.write_text('{\n  // my theme\n  "theme": "One Dark"\n}\n')
    with pytest.raises(ValueError, match="not plain JSON"):
        write(zed, snippet("zed", TARGET))
    assert "// my theme" in zed.read_text()  # left alone


async def serving(
    tmp_path: Path, upstream: FakeUpstream, handler: Any, alias: str
) -> tuple[Path, asyncio.subprocess.Process, int]:
    upstream.handler = handler
    port = free_port()
    config = tmp_path / "proxyd.yaml"
    config.write_text(
        f"listen: {{port: {port}}}\nhealth: {{interval_s: 0}}\nproviders:\n  - name: local\n"
        f"    base_url: '{upstream.base_url}'\n    wire: chat\n    models: [{{id: qwen3-coder, alias: {alias}}}]\n"
    )
    proc, _ = await start_serve(config, "--port", str(port))
    return config, proc, port


async def set_up(tmp_path: Path, client: str, config: Path) -> tuple[Path, Path]:
    """``proxyd setup CLIENT --write`` into a fresh home; (home, an empty work folder)."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    code, _, err = await arun("setup", client, "--write", "--home", str(home), "--config", str(config))
    assert code == 0, err
    return home, work


async def run_client(args: list[str], env: dict[str, str], cwd: Path, wait: float) -> tuple[str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), wait)
    assert proc.returncode == 0, (stdout.decode()[-2000:], stderr.decode()[-2000:])
    return stdout.decode(), stderr.decode()


async def test_codex_runs_on_what_setup_wrote(tmp_path: Path, upstream: FakeUpstream) -> None:
    from clients.install import installed
    from clients.versions import CODEX, PINNED
    from tests.test_codex import MARKER, chat_only

    program = await asyncio.to_thread(installed, CODEX, PINNED["codex"][-1])  # the release that stopped
    config, proc, port = await serving(tmp_path, upstream, chat_only, "coder")
    try:
        home, work = await set_up(tmp_path, "codex", config)
        written = tomllib.loads((home / ".codex" / "config.toml").read_text())
        assert written["model"] == "coder"
        assert written["model_providers"]["proxyd"]["base_url"] == f"http://127.0.0.1:{port}/v1"
        args = [*program, "exec", "--skip-git-repo-check", "--ephemeral", "--json", "-c", "analytics.enabled=false",
                "-c", "check_for_update_on_startup=false", "--dangerously-bypass-approvals-and-sandbox", "-C", str(work),
                "Run echo and tell me what it printed."]  # fmt: skip
        # a fresh shell: nothing exported (Codex 0.171 stopped at a missing PROXYD_API_KEY before)
        env = {k: v for k, v in os.environ.items() if k != "PROXYD_API_KEY"}
        env.update(HOME=str(home), CODEX_HOME=str(home / ".codex"))
        stdout, _ = await run_client(args, env, work, 180)
        assert f"The command printed {MARKER}: saw it." in stdout
    finally:
        proc.terminate()
        await proc.wait()


async def test_claude_code_runs_on_what_setup_wrote(tmp_path: Path, upstream: FakeUpstream) -> None:
    from clients.install import installed
    from clients.versions import CLAUDE_CODE, PINNED
    from tests.test_claude_code import MARKER, chat_only

    program = await asyncio.to_thread(installed, CLAUDE_CODE, PINNED["claude-code"][-1])  # the newest release
    config, proc, _ = await serving(tmp_path, upstream, chat_only, "coder")
    try:
        home, work = await set_up(tmp_path, "claude-code", config)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
               "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1"}  # fmt: skip
        args = [*program, "-p", "Run echo and tell me what it printed.", "--output-format", "stream-json",
                "--verbose", "--allowedTools", "Bash"]  # fmt: skip
        stdout, _ = await run_client(args, env, work, 240)
        result = json.loads(stdout.strip().splitlines()[-1])
        assert result["result"].endswith(f"The command printed {MARKER}: saw it.")
    finally:
        proc.terminate()
        await proc.wait()


def test_two_writes_in_one_second_keep_the_users_original(tmp_path: Path) -> None:
    codex = tmp_path / ".codex" / "config.toml"
    codex.parent.mkdir()
    original = '# mine\napproval_policy = "never"\n'
    codex.write_text(original)
    for _ in range(3):  # within the same second: each backup gets a name of its own
        write(codex, snippet("codex", TARGET))
    backups = sorted(codex.parent.glob("config.toml.bak-*"), key=lambda p: p.stat().st_mtime_ns)
    assert len(backups) == 3 and original in [b.read_text() for b in backups]
    assert backups[0].read_text() == original


def test_with_a_token_the_export_line_names_where_it_is_never_the_token() -> None:
    config = parse_config({"listen": {"token_file": "/run/secrets/me.token"},
                           "providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1"}]},
                          env={}, read_file=lambda name: "tok-secret-12345")  # fmt: skip
    hint = token_hint(config)
    assert hint == "$(cat /run/secrets/me.token)"
    target = Target("http://127.0.0.1:8787", "m", "m", ("m",), hint)
    codex, claude = snippet("codex", target), snippet("claude-code", target)
    assert 'env_key = "PROXYD_API_KEY"' in codex.text and codex.exports == (
        'export PROXYD_API_KEY="$(cat /run/secrets/me.token)"',
    )
    assert "ANTHROPIC_AUTH_TOKEN" not in claude.text and claude.exports[0].startswith("export ANTHROPIC_AUTH_TOKEN=")
    assert "tok-secret" not in codex.text + claude.text + "".join(codex.exports + claude.exports)
    assert "env_key" not in snippet("codex", Target("http://127.0.0.1:8787", "m", "m", ("m",))).text
