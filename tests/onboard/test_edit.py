"""`proxyd add`, `remove` and `set` as real processes: the user's comments, order and layout stay,
the result loads, keys never land in the YAML, and a running proxyd picks the edit up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp

from proxyd.config.loader import load_config, load_text
from proxyd.config.settings import Config
from proxyd.onboard.edit import dump, read, set_value
from tests.conftest import FakeUpstream
from tests.helpers import STATE, arun, eventually, start_serve

CONFIG = """\
# My proxyd config. Keep this comment!
listen: {host: 127.0.0.1, port: 8787}   # loopback only
default_provider: local

providers:
  # the box under my desk
  - name: local
    base_url: 'http://127.0.0.1:11434/v1'   # quoted on purpose
    models:
      - plain-model
      - id: qwen3
        alias: fast     # the one I use
"""
KEY = "sk-typed-on-stdin-0123456789"


def config_at(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    path.chmod(0o600)
    return path


async def test_add_keeps_every_comment_and_writes_a_loadable_config(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    code, out, err = await arun("add", "openrouter", "https://openrouter.ai/api/v1/chat/completions", "--key-env", "OPENROUTER_API_KEY",
                                "--header", "X-Title=proxyd", "--model", "openai/gpt-5", "--config", str(path), env={"OPENROUTER_API_KEY": "x"})  # fmt: skip
    assert code == 0, err
    assert "added provider openrouter" in out
    text = path.read_text()
    for line in CONFIG.splitlines():
        assert line in text  # every line, comments and quoting included, as it was
    assert "api_key: ${OPENROUTER_API_KEY}" in text and "X-Title: proxyd" in text
    loaded = load_config(path, {"OPENROUTER_API_KEY": "x"})
    assert [p.name for p in loaded.providers] == ["local", "openrouter"]
    assert (
        loaded.providers[1].base_url == "https://openrouter.ai/api/v1"
        and loaded.providers[1].default_model == "openai/gpt-5"
    )
    assert oct(path.stat().st_mode)[-3:] == "600"


async def test_a_key_on_stdin_goes_to_a_0600_file_never_the_yaml(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    args = [
        sys.executable,
        "-m",
        "proxyd",
        "add",
        "groq",
        "https://api.groq.com/openai/v1",
        "--key",
        "-",
        "--config",
        str(path),
    ]
    done = await asyncio.to_thread(
        subprocess.run,
        args,
        input=KEY + "\n",
        capture_output=True,
        text=True,
        env={**STATE, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert KEY not in path.read_text() + done.stdout + done.stderr and "api_key_file: keys/groq" in path.read_text()
    key_path = tmp_path / "keys" / "groq"
    assert key_path.read_text().strip() == KEY and oct(key_path.stat().st_mode)[-3:] == "600"
    assert load_config(path, {}).providers[1].api_key == KEY


async def test_set_and_remove_edit_one_value(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    for args in (("local.models.qwen3.context_window", "32768"), ("local.models.plain-model.capabilities.vision", "false"),
                 ("local.models.qwen3.tags", "sandbox, free"), ("local.models.qwen3.alias", "claude-*haiku*")):  # fmt: skip
        code, _, err = await arun("set", *args, "--config", str(path))
        assert code == 0, err
    text = path.read_text()
    assert "alias: claude-*haiku* # the one I use" in text  # the value changed, its comment stayed
    assert "# the box under my desk" in text and "quoted on purpose" in text
    model = {m.id: m for m in load_config(path, {}).providers[0].models}
    assert model["qwen3"].context_window == 32768 and model["qwen3"].tags == ("sandbox", "free")
    assert model["plain-model"].capability("vision") is False and model["qwen3"].alias == "claude-*haiku*"
    code, _, err = await arun("set", "local.wire", "grpc", "--config", str(path))
    assert (
        code == 2 and "providers[0].wire: must be one of" in err and "wire: grpc" not in path.read_text()
    )  # checked first
    code, _, err = await arun("remove", "nobody", "--config", str(path))
    assert code == 2 and "no provider named 'nobody' (configured: local)" in err
    await arun("add", "second", "http://127.0.0.1:1/v1", "--config", str(path))
    code, _, _ = await arun("remove", "local", "--config", str(path))
    assert code == 0 and [p.name for p in load_config(path, {}).providers] == ["second"]
    assert "default_provider" not in path.read_text()  # it named the removed provider


async def test_a_running_proxyd_picks_up_an_add(tmp_path: Path, upstream: FakeUpstream) -> None:
    path = config_at(
        tmp_path, f"health: {{interval_s: 0}}\nproviders:\n  - name: local\n    base_url: '{upstream.base_url}'\n"
    )
    proc, url = await start_serve(path)
    try:
        code, _, err = await arun("add", "again", upstream.base_url, "--config", str(path))
        assert code == 0, err

        async def listed() -> bool:
            async with aiohttp.ClientSession() as s, s.get(url.removesuffix("/v1") + "/status") as resp:
                return [p["name"] for p in (await resp.json())["providers"]] == ["local", "again"]

        await eventually(listed, "the added provider in /status")
    finally:
        proc.terminate()
        await proc.wait()


def test_null_takes_a_value_out_and_one_discovered_model_keeps_the_others_listed(tmp_path: Path) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text("providers:\n  - name: local  # mine\n    base_url: http://127.0.0.1:11434/v1\n")
    doc = read(path)
    set_value(doc, "local.models.qwen3.context_window", 32768)
    set_value(doc, "local.models.qwen3.alias", "fast")
    set_value(doc, "local.models.qwen3.alias", None)
    text = dump(doc)
    assert "# mine" in text and "list_discovered: true" in text and "alias" not in text
    provider = load_config_text(text).providers[0]
    assert provider.list_discovered and [(m.id, m.context_window) for m in provider.models] == [("qwen3", 32768)]


def test_nested_model_keys_under_an_id_with_dots(tmp_path: Path) -> None:
    """What proxyd check --tools prints: NAME.models.ID.tool_calls.repair and .capabilities.tools."""
    path = tmp_path / "proxyd.yaml"
    path.write_text("providers:\n  - name: local\n    base_url: http://127.0.0.1:11434/v1\n")
    doc = read(path)
    set_value(doc, "local.models.qwen2.5:7b.tool_calls.repair", True)
    set_value(doc, "local.models.gemma3:4b.capabilities.tools", False)
    models = {m.id: m for m in load_config_text(dump(doc)).providers[0].models}
    assert models["qwen2.5:7b"].tool_calls is not None and models["qwen2.5:7b"].tool_calls.repair
    assert models["gemma3:4b"].capability("tools") is False


def load_config_text(text: str) -> Config:
    return load_text(text, Path("/tmp/proxyd.yaml"), {})
