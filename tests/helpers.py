"""Helpers the test files share: one bound for waiting, one way to wait for a condition, and
running the `proxyd` CLI and `proxyd serve` as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

# How long anything that must happen may take before a test fails: generous, because these VMs
# stall at times; a bound for correctness, never a performance assertion.
WAIT = 20.0
STATE = {"XDG_STATE_HOME": "/tmp/proxyd-test-state"}  # the response store of `serve` goes here

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], what: str, *, every: float = 0.05, wait: float = WAIT) -> T:
    """Call ``check`` until it returns something true, and return that; fail after ``wait``
    seconds, saying ``what`` was awaited and the last value seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"timed out after {wait:g} s waiting for {what}; last saw {value!r}"
        await asyncio.sleep(every)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **STATE, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "proxyd", *args], capture_output=True, text=True, env=full_env, timeout=60
    )


async def arun(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """:func:`run` without blocking the event loop (the fake upstreams live on it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxyd", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **STATE, **(env or {})},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def start_serve(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxyd", "serve", "--config", str(config), "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **STATE, **(env or {})},
    )  # fmt: skip
    assert proc.stderr is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), WAIT)
        assert line, "proxyd exited before listening"
        event = json.loads(line)
        if event["event"] == "listening":
            return proc, str(event["url"])
