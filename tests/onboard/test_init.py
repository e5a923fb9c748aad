"""`proxyd init` as a real process: local servers on free ports, keys in the environment, and a
terminal (a pty) for the questions."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from proxyd.config.loader import load_config
from proxyd.onboard.finds import LOCAL_SERVERS
from tests.helpers import STATE, arun

SECRET = "sk-or-init-secret-0123456789"
README = Path(__file__).resolve().parents[2] / "README.md"


def ports_for(servers: dict[str, int], closed: int) -> list[str]:
    """--port arguments: the given servers' ports, every other known server on a closed port."""
    return [arg for name, _, _ in LOCAL_SERVERS for arg in ("--port", f"{name}={servers.get(name, closed)}")]


async def model_server(aiohttp_server: Any, ids: list[str], empty_first: bool = False) -> int:
    asked = {"n": 0}

    async def models(request: web.Request) -> web.Response:
        asked["n"] += 1
        listed = [] if empty_first and asked["n"] == 1 else ids
        return web.json_response({"object": "list", "data": [{"id": i, "object": "model"} for i in listed]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    server = await aiohttp_server(app)
    return int(server.port)


async def test_init_yes_writes_a_valid_commented_config(tmp_path: Path, aiohttp_server: Any, closed_port: int) -> None:
    ollama = await model_server(aiohttp_server, ["llama3.2", "qwen3:8b"])
    lmstudio = await model_server(aiohttp_server, ["gemma-3"], empty_first=True)  # its catalog loads late
    config = tmp_path / "conf" / "config.yaml"
    env = {"OPENROUTER_API_KEY": SECRET, "HOME": str(tmp_path)}
    code, out, err = await arun(
        "init",
        "--yes",
        "--config",
        str(config),
        *ports_for({"ollama": ollama, "lmstudio": lmstudio}, closed_port),
        env=env,
    )
    assert code == 0, err
    text = config.read_text()
    assert SECRET not in text + out + err and "${OPENROUTER_API_KEY}" in text
    assert text.startswith("# proxyd's config, written by `proxyd init`")
    doc = yaml.safe_load(text)
    assert doc["default_provider"] == "ollama"
    assert [(p["name"], p.get("default_model")) for p in doc["providers"]] == [
        ("ollama", "llama3.2"),
        ("lmstudio", "gemma-3"),
        ("openrouter", None),
    ]
    assert [m["id"] for m in doc["providers"][0]["models"]] == ["llama3.2", "qwen3:8b"]
    assert oct(config.stat().st_mode)[-3:] == "600"
    loaded = load_config(config, {"OPENROUTER_API_KEY": SECRET})
    assert [p.name for p in loaded.providers] == ["ollama", "lmstudio", "openrouter"]
    assert "proxyd serve" in out and "proxyd check" in out and '"model": "ollama/llama3.2"' in out
    assert "Found:" in out and "(2 models)" in out and "(1 model)" in out  # --yes says what it took
    assert doc["providers"][0]["models"][0]["alias"] == "fast"  # the README's model="fast" works on it


async def test_init_keeps_an_existing_config_unless_forced(tmp_path: Path, closed_port: int) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("# mine\nproviders: [{name: a, base_url: 'http://127.0.0.1:1/v1'}]\n")
    args = ("init", "--yes", "--config", str(config), *ports_for({}, closed_port))
    code, _, err = await arun(*args, env={"HOME": str(tmp_path)})
    assert code == 2 and "--force" in err and config.read_text().startswith("# mine")
    code, out, _ = await arun(*args, "--force", env={"HOME": str(tmp_path)})
    assert code == 0 and "kept the old config as" in out
    backups = await asyncio.to_thread(lambda: list(tmp_path.glob("config.yaml.bak-*")))
    assert len(backups) == 1 and backups[0].read_text().startswith("# mine")
    # Nothing found: still a working, commented example.
    assert "Nothing was found on this machine" in config.read_text()
    assert [p.name for p in load_config(config, {}).providers] == ["ollama"]


async def test_init_off_a_terminal_asks_for_yes(tmp_path: Path, closed_port: int) -> None:
    code, _, err = await arun(
        "init", "--config", str(tmp_path / "c.yaml"), *ports_for({}, closed_port), env={"HOME": str(tmp_path)}
    )
    assert code == 2 and "--yes" in err and not (tmp_path / "c.yaml").exists()


async def test_init_on_a_terminal_asks_provider_by_provider(
    tmp_path: Path, aiohttp_server: Any, closed_port: int
) -> None:
    ollama = await model_server(aiohttp_server, ["llama3.2", "qwen3:8b", "phi4"])
    config = tmp_path / "config.yaml"
    args = [
        sys.executable,
        "-m",
        "proxyd",
        "init",
        "--config",
        str(config),
        *ports_for({"ollama": ollama}, closed_port),
    ]
    env = {**os.environ, **STATE, "HOME": str(tmp_path), "GROQ_API_KEY": "gsk-init-test-123456"}
    answers = ["y", "1,3", "n"]  # use ollama with two of its models; not groq
    transcript = await asyncio.to_thread(_run_in_pty, args, env, answers)
    assert "Use ollama? [Y/n]" in transcript and "Use groq? [Y/n]" in transcript and "2. qwen3:8b" in transcript
    doc = yaml.safe_load(config.read_text())
    assert [p["name"] for p in doc["providers"]] == ["ollama"]
    assert [m["id"] for m in doc["providers"][0]["models"]] == ["llama3.2", "phi4"]


def _run_in_pty(args: list[str], env: dict[str, str], answers: list[str]) -> str:
    """Run ``args`` on a pseudo-terminal, answering each question as it appears."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen, pending = b"", list(answers)
    try:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            seen += data
            if pending and seen.rstrip().endswith((b"]", b"?")):
                os.write(master, pending.pop(0).encode() + b"\n")
    finally:
        os.close(master)
        proc.wait(timeout=30)
    assert proc.returncode == 0, seen.decode(errors="replace")
    return seen.decode(errors="replace")


async def test_the_readmes_first_screen_works_on_what_init_writes(
    tmp_path: Path, aiohttp_server: Any, closed_port: int
) -> None:
    """Clone to a first answer: init --yes finds an Ollama-like server, serve runs the config it
    wrote, and the README's first SDK example (model="fast") answers, unchanged but for the port."""
    from tests.helpers import start_serve
    from tests.page.fakes import ollama_like

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ollama_like(("llama3.2:1b", "qwen3:8b")))
    ollama = await aiohttp_server(app)
    config = tmp_path / "config.yaml"
    code, _, err = await arun("init", "--yes", "--config", str(config), *ports_for({"ollama": ollama.port}, closed_port),
                              env={"HOME": str(tmp_path)})  # fmt: skip
    assert code == 0, err
    readme = await asyncio.to_thread(README.read_text)
    example = readme.split("**openai SDK (Python)**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'model="fast"' in example
    proc, url = await start_serve(config)
    try:
        script = example.replace("http://127.0.0.1:8787/v1", url)
        run = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
        out, err_bytes = await asyncio.wait_for(run.communicate(), 60)
        assert run.returncode == 0, err_bytes.decode()[-1500:]
        lines = out.decode().splitlines()
        assert lines[0] == "OK" and "fast" in lines and "ollama/llama3.2:1b" in lines  # the answer, then the catalog
    finally:
        proc.terminate()
        await proc.wait()
