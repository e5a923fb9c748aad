"""Recording what a real client sends: ``python -m clients --capture``.

Each pinned release runs the tool-using task of :mod:`clients.run` straight against the fake
provider of its own wire (no proxyd between), which records every request as it arrived. The
requests are scrubbed (keys, the temporary home and work folders, session and device ids) and
written to ``tests/fixtures/clients/<client>-<version>/NN-<endpoint>.json``: the method, path,
the headers a provider would see (credentials left out) and the body. ``tests/test_client_fixtures.py``
replays every one through proxyd to a provider of every wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from clients import run
from clients.agents import Agent, serving
from clients.install import installed
from clients.versions import CLIENTS, PINNED, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "clients"
_CREDENTIALS = {"authorization", "x-api-key", "api-key", "cookie"}
_HOP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


class Recorder(Agent):
    """The own-wire agent, keeping each request as it arrived."""

    def __init__(self, wire: str) -> None:
        super().__init__(wire)
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in _CREDENTIALS | _HOP}
        parsed: Any = json.loads(body) if body.startswith(b"{") else None
        self.requests.append({"method": request.method, "path": request.path_qs, "headers": headers, "body": parsed})
        return await super().handle(request)


def scrub(value: Any, folders: list[str]) -> Any:
    """Keys, the run's own folders and per-run ids out of a captured request."""
    text = json.dumps(value)
    for folder in folders:
        text = text.replace(folder, "/home/user")
    text = _UUID.sub("00000000-0000-4000-8000-000000000000", text)
    text = _HEX64.sub("0" * 64, text)
    text = re.sub(r"sk-[A-Za-z0-9_-]{6,}", "sk-scrubbed", text)
    return json.loads(text)


async def capture(client: str, version: str) -> list[dict[str, Any]]:
    program = await asyncio.to_thread(installed, CLIENTS[client], version)
    async with _recording(CLIENTS[client].wire) as (origin, recorder):
        with tempfile.TemporaryDirectory(prefix="proxyd-capture-") as tmp:
            runner_fn = run.claude_code if client == "claude-code" else run.codex
            ok, detail = await runner_fn(program, origin, Path(tmp))
            if not ok:
                raise RuntimeError(f"{client} {version} did not finish its task against the fake: {detail}")
            folders = await asyncio.to_thread(_folders, tmp)
            return [scrub(r, folders) for r in recorder.requests if r["method"] == "POST"]


def _folders(tmp: str) -> list[str]:
    """The run's folder (as given and resolved) and this machine's home, which Codex names too."""
    home = os.path.expanduser("~")
    return [os.path.realpath(tmp), tmp, *([home] if len(home) > 1 else [])]


async def capture_all(names: list[str]) -> int:
    for client in names:
        for version in PINNED[client]:
            keep(f"{client}-{version}", await capture(client, version))
    for name, requests in (await capture_sdks()).items():
        keep(name, requests)
    return 0


def keep(name: str, requests: list[dict[str, Any]]) -> None:
    folder = FIXTURES / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for n, request in enumerate(requests):
        endpoint = request["path"].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        (folder / f"{n:02d}-{endpoint}.json").write_text(json.dumps(request, indent=1, sort_keys=True) + "\n")
    print(f"{name}: {len(requests)} requests in {folder.relative_to(ROOT)}")


async def capture_sdks() -> dict[str, list[dict[str, Any]]]:
    """The openai and anthropic Python SDKs, each asked for a streamed tool call and a plain answer."""
    import anthropic
    import openai

    schema = {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}
    tool: Any = {"name": "exec_command", "description": "Run a shell command", "parameters": schema}
    out: dict[str, list[dict[str, Any]]] = {}
    async with _recording("chat") as (origin, recorder):
        sdk = openai.AsyncOpenAI(base_url=origin + "/v1", api_key="sk-test-capture", max_retries=0)
        messages: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Run echo."}]
        stream = await sdk.chat.completions.create(model="gpt-4.1", messages=messages, stream=True,
                                                   tools=[{"type": "function", "function": tool}],
                                                   stream_options={"include_usage": True})  # fmt: skip
        async for _ in stream:
            pass
        await sdk.chat.completions.create(model="gpt-4.1", messages=messages, max_completion_tokens=64)
        out[f"openai-python-{openai.__version__}-chat"] = recorder.requests
    async with _recording("responses") as (origin, recorder):
        sdk = openai.AsyncOpenAI(base_url=origin + "/v1", api_key="sk-test-capture", max_retries=0)
        function: Any = {"type": "function", **tool}
        async with sdk.responses.stream(
            model="gpt-4.1", input="Run echo.", instructions="Be brief.", tools=[function]
        ) as events:
            async for _ in events:
                pass
        out[f"openai-python-{openai.__version__}-responses"] = recorder.requests
    async with _recording("anthropic") as (origin, recorder):
        client = anthropic.AsyncAnthropic(base_url=origin, api_key="sk-ant-capture", max_retries=0)
        tools: Any = [{"name": tool["name"], "description": tool["description"], "input_schema": tool["parameters"]}]
        async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=1024, system="Be brief.", tools=tools,
                                          messages=[{"role": "user", "content": "Run echo."}]) as events:  # fmt: skip
            async for _ in events:
                pass
        out[f"anthropic-python-{anthropic.__version__}"] = recorder.requests
    return {name: [scrub(r, []) for r in requests] for name, requests in out.items()}


@contextlib.asynccontextmanager
async def _recording(wire: str) -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder(wire)
    async with serving(recorder) as origin:
        yield origin, recorder
