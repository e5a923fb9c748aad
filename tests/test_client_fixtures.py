"""What real clients sent (``tests/fixtures/clients/``, recorded by ``python -m clients --capture``),
replayed through proxyd to a provider of every wire.

Each request was answered by the fake of its own wire when it was captured, so no pair of wires
may turn it into a refusal: every one must reach the provider and come back whole, in the
client's wire. A new client release is captured, and this table runs it on the day it lands.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from clients.agents import Agent
from clients.versions import PROVIDER_WIRES
from tests.conftest import ProxyClient

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "clients"
CAPTURED = sorted(FIXTURES.glob("*/*.json"))
REQUESTS = {path: json.loads(path.read_text()) for path in CAPTURED}
# How a whole answer ends on each client endpoint: a stream that stopped short fails here.
STREAM_END = {"messages": b"event: message_stop", "responses": b"response.completed", "completions": b"data: [DONE]"}


def test_every_pinned_release_and_both_sdks_are_captured() -> None:
    names = {p.parent.name for p in CAPTURED}
    assert {"claude-code-2.1.112", "claude-code-2.1.332", "codex-0.169.0", "codex-0.171.0"} <= names
    assert any(n.startswith("anthropic-python-") for n in names) and any(n.startswith("openai-python-") for n in names)


@pytest.fixture
async def through(
    aiohttp_server: Any, proxy_factory: Callable[..., Awaitable[ProxyClient]]
) -> Callable[[str], Awaitable[tuple[ProxyClient, Agent]]]:
    async def make(wire: str) -> tuple[ProxyClient, Agent]:
        agent = Agent(wire)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", agent.handle)
        server = await aiohttp_server(app)
        base = str(server.make_url("")).rstrip("/") + {"anthropic": "", "gemini": "/v1beta"}.get(wire, "/v1")
        provider = {"name": "agent", "base_url": base, "wire": wire, "api_key": "sk-fake-provider-key",
                    "models": [{"id": "agent-model", "alias": "claude-*"}]}  # fmt: skip
        return await proxy_factory({"default_provider": "agent", "providers": [provider]}), agent

    return make


@pytest.mark.parametrize("wire", PROVIDER_WIRES)
@pytest.mark.parametrize("fixture", CAPTURED, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_a_captured_request_crosses_to_every_wire(
    fixture: Path, wire: str, through: Callable[[str], Awaitable[tuple[ProxyClient, Agent]]]
) -> None:
    captured: dict[str, Any] = REQUESTS[fixture]
    proxy, agent = await through(wire)
    headers = {k: v for k, v in captured["headers"].items() if k not in ("content-type",)}
    async with proxy.request(captured["method"], captured["path"], json=captured["body"], headers=headers) as resp:
        raw = await resp.read()
    assert resp.status == 200, raw[:600]
    assert agent.seen, "the provider was never called"
    endpoint = captured["path"].split("?")[0].rsplit("/", 1)[-1]
    if captured["body"].get("stream"):
        assert STREAM_END[endpoint] in raw, raw[-600:]
    else:
        assert json.loads(raw)
