"""Shared fixtures: a recording fake upstream and a proxyd app in front of it, both real
aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxyd.config.parse import parse_config
from proxyd.config.settings import Config
from proxyd.server import Running, start

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str  # raw path with query, as it arrived upstream
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] | None = None  # the proxy's side of the connection

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeUpstream:
    """Records every request; answers with ``handler`` (an echo of the request by default)."""

    server: TestServer | None = None
    seen: list[Seen] = field(default_factory=list)
    handler: Handler | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v1"))

    @property
    def peers(self) -> set[tuple[str, int] | None]:
        return {s.peer for s in self.seen}

    @property
    def last(self) -> Seen:
        return self.seen[-1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append(Seen(request.method, request.raw_path, dict(request.headers), body, peer))
        if self.handler is not None:
            return await self.handler(request)
        model = json.loads(body).get("model") if body.startswith(b"{") else None
        return web.json_response({"ok": True, "path": request.raw_path, "model": model})


def paced_stream(chunks: int, pause_s: float, *, finish: bool) -> Handler:
    """An upstream handler sending ``chunks`` chat deltas ``pause_s`` apart; ``finish`` ends it properly."""

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(chunks):
            await resp.write(
                f'data: {{"n": {i}, "choices": [{{"index": 0, "delta": {{"content": "x"}}}}]}}\n\n'.encode()
            )
            await asyncio.sleep(pause_s)
        if finish:
            await resp.write(b'data: {"choices": [{"finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
        return resp

    return stream


@pytest.fixture
async def upstream_factory(aiohttp_server: Any) -> Callable[[], Awaitable[FakeUpstream]]:
    async def make() -> FakeUpstream:
        fake = FakeUpstream()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", fake._handle)
        fake.server = await aiohttp_server(app)
        return fake

    return make


@pytest.fixture
async def upstream(upstream_factory: Callable[[], Awaitable[FakeUpstream]]) -> FakeUpstream:
    return await upstream_factory()


def make_config(raw: dict[str, Any], env: dict[str, str] | None = None) -> Config:
    return parse_config(raw, env=env or {}, read_file=lambda path: Path(path).read_text())


class ProxyClient:
    """A client for a proxyd started the way ``proxyd serve`` starts it."""

    def __init__(self, session: aiohttp.ClientSession, port: int, app: web.Application | None = None) -> None:
        self.session = session
        self.port = port
        self._app = app
        self.origin = f"http://127.0.0.1:{port}"

    @property
    def app(self) -> web.Application:
        assert self._app is not None
        return self._app

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.session.request(method, self.origin + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


@pytest.fixture
async def proxy_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[ProxyClient]]]:
    started: list[Running] = []
    sessions: list[aiohttp.ClientSession] = []

    async def make(raw: dict[str, Any], env: dict[str, str] | None = None) -> ProxyClient:
        store = raw.get("store", {})
        ledger = raw.get("ledger", {})
        if "url" not in store:
            store = {"path": str(tmp_path / f"responses-{len(started)}.sqlite3"), **store}
            ledger = {"path": str(tmp_path / f"usage-{len(started)}.sqlite3"), **ledger}
        # Health probes off unless a test asks: most tests count what the upstream saw.
        health = {"interval_s": 0, **raw.get("health", {})}
        raw = {**raw, "listen": {"port": 0, **raw.get("listen", {})}, "store": store, "health": health,
               "ledger": ledger}  # fmt: skip
        running = await start(make_config(raw, env))
        started.append(running)
        sessions.append(aiohttp.ClientSession(auto_decompress=False))
        return ProxyClient(sessions[-1], running.port, running.app)

    yield make
    for session in sessions:
        await session.close()
    for running in started:
        await running.runner.cleanup()


@pytest.fixture
async def proxy(proxy_factory: Callable[..., Awaitable[ProxyClient]], upstream: FakeUpstream) -> ProxyClient:
    """proxyd with one provider, ``local``, in front of ``upstream``, holding key ``sk-local``."""
    return await proxy_factory(
        {
            "default_provider": "local",
            "providers": [
                {
                    "name": "local",
                    "base_url": upstream.base_url,
                    "api_key": "sk-local",
                    "wire": "auto",
                    "default_model": "m-default",
                    "headers": {"X-Tenant": "team-a"},
                    "models": [{"id": "llama3.2", "alias": "fast"}],
                }
            ],
        }
    )


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening (shared by the tests that need one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
