"""Local servers in the tests: the fake llama-server (tests.fakes.llama_server) as a provider's
command, on a free loopback port, and how to see whether a process still runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.daemons import free_port

ROOT = str(Path(__file__).resolve().parents[2])


def fake_provider(name: str, *, load_s: float = 0.3, ctx: int = 4096, extra: tuple[str, ...] = (),
                  **settings: Any) -> dict[str, Any]:  # fmt: skip
    """A provider whose server proxyd runs: the fake llama-server on a port of its own."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.fakes.llama_server", "--port", str(port), "--load-s", str(load_s),
            "--ctx", str(ctx), "--alias", name, *extra]  # fmt: skip
    return {
        "name": name,
        "base_url": f"http://127.0.0.1:{port}/v1",
        "wire": "chat",
        "command": {"argv": argv, "cwd": ROOT, "env": {"PYTHONPATH": ROOT}},
        "ready": {"path": "/health", "timeout_s": 20},
        "models": [name],  # a server that is not running cannot be asked what it serves
        **settings,
    }


def alive(pid: int) -> bool:
    """The process runs (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def chat(model: str, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}
