"""Hot reload: editor-style saves, SIGHUP, invalid files, listen changes, key files (a real
`proxyd serve` process), and streams and pools across reloads (in process)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxyd.config.loader import load_config
from proxyd.reload import RELOADS
from proxyd.runtime import RUNTIME
from proxyd.server import ReloadFrom, start
from tests.conftest import FakeUpstream
from tests.helpers import WAIT, eventually, start_serve


class Daemon:
    """A `proxyd serve` process whose stderr (JSON log lines) is collected as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc, self.url = proc, url
        self.origin = url.removesuffix("/v1")
        self.events: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.headers: dict[str, str] = {}  # e.g. the listen.token
        self._drain = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.raw.append(line)
            self.events.append(json.loads(line))

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession(headers=self.headers) as s, s.get(self.origin + path) as resp:
            return await resp.json() if path != "/metrics" else await resp.text()

    async def generation(self) -> int:
        return int((await self.get("/status"))["config"]["generation"])

    async def reloads(self, result: str) -> float:
        for line in (await self.get("/metrics")).splitlines():
            if line.startswith(f'proxyd_config_reloads_total{{result="{result}"}}'):
                return float(line.split()[-1])
        raise AssertionError(f"no proxyd_config_reloads_total sample for {result} (it must exist at 0 from the start)")

    async def wait_for(self, what: str, check: Any) -> None:
        await eventually(check, what)

    async def stop(self) -> bytes:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), WAIT)
        await asyncio.wait_for(self._drain, WAIT)
        return b"".join(self.raw)


async def serve(config: Path, *args: str, env: dict[str, str] | None = None) -> Daemon:
    return Daemon(*await start_serve(config, *args, env=env))


Start = Callable[..., Awaitable[Daemon]]


@pytest.fixture
async def daemon() -> AsyncIterator[Start]:
    """Start ``proxyd serve`` on a config (as :func:`serve`); each one is stopped after the test."""
    started: list[Daemon] = []

    async def launch(config: Path, *args: str, env: dict[str, str] | None = None) -> Daemon:
        started.append(await serve(config, *args, env=env))
        return started[-1]

    yield launch
    for d in started:
        await d.stop()


def provider_yaml(name: str, base_url: str, extra: str = "") -> str:
    return (
        f"default_provider: {name}\nhealth: {{interval_s: 0}}\n"
        f"providers:\n  - name: {name}\n    base_url: '{base_url}'\n{extra}"
    )


async def settle() -> None:
    """Give a (wrong) second reload time to happen: watchfiles batches within 50 ms steps."""
    await asyncio.sleep(0.6)


async def test_rename_save_reloads_exactly_once(tmp_path: Path, upstream: FakeUpstream, daemon: Start) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(provider_yaml("first", upstream.base_url))
    d = await daemon(config)
    tmp = tmp_path / ".config.yaml.swp"
    tmp.write_text(provider_yaml("second", upstream.base_url))
    os.replace(tmp, config)  # how vim (backupcopy=no), VS Code and many tools save
    await d.wait_for("generation 2", lambda: _is(d.generation(), 2))
    await settle()
    assert await d.generation() == 2 and await d.reloads("success") == 1 and await d.reloads("failure") == 0
    async with aiohttp.ClientSession() as s, s.post(d.url + "/chat/completions", json={"model": "x"}) as resp:
        assert resp.status == 200
    assert [p["name"] for p in (await d.get("/status"))["providers"]] == ["second"]
    # The provider the reload added has its counters from the start, at 0.
    assert 'proxyd_upstream_errors_total{provider="second",reason="status_5xx"} 0.0' in await d.get("/metrics")


async def test_truncate_then_write_reloads_exactly_once(tmp_path: Path, upstream: FakeUpstream, daemon: Start) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(provider_yaml("first", upstream.base_url))
    d = await daemon(config)
    with config.open("w") as f:  # truncate now, write a moment later (nano, gedit, many editors)
        f.flush()
        os.fsync(f.fileno())
        await asyncio.sleep(0.3)
        f.write(provider_yaml("second", upstream.base_url))
    await d.wait_for("generation 2", lambda: _is(d.generation(), 2))
    await settle()
    assert await d.generation() == 2 and await d.reloads("success") == 1 and await d.reloads("failure") == 0


async def test_invalid_files_keep_the_running_config(tmp_path: Path, upstream: FakeUpstream, daemon: Start) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(provider_yaml("good", upstream.base_url))
    d = await daemon(config)
    bad_files = [
        "providers: [unclosed\n",  # YAML
        provider_yaml("good", "ftp://nowhere"),  # validation
        provider_yaml("good", upstream.base_url, "    headers: {X-A: '${PROXYD_TEST_UNSET_VAR}'}\n"),  # missing env
    ]
    for i, text in enumerate(bad_files, start=1):
        config.write_text(text)
        await d.wait_for(f"failure {i}", lambda i=i: _is(d.reloads("failure"), i))  # type: ignore[misc]
        async with aiohttp.ClientSession() as s, s.post(d.url + "/chat/completions", json={"model": "m"}) as resp:
            assert resp.status == 200  # still served by the last good config
    assert await d.generation() == 1
    errors = [e for e in d.events if e["event"] == "config_reload_failed"]
    assert len(errors) == 3
    assert any("invalid YAML" in line for line in errors[0]["errors"])
    assert any(line.startswith("providers[0].base_url:") for line in errors[1]["errors"])
    assert any("PROXYD_TEST_UNSET_VAR is not set" in line for line in errors[2]["errors"])
    last = (await d.get("/status"))["config"]["last_reload"]
    assert last["result"] == "failure" and last["errors"]


async def test_sighup_reloads_and_listen_changes_wait_for_a_restart(
    tmp_path: Path, upstream: FakeUpstream, daemon: Start
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(provider_yaml("first", upstream.base_url))
    d = await daemon(config, "--no-watch")
    config.write_text("listen: {max_body_mb: 1}\n" + provider_yaml("second", upstream.base_url))
    await settle()
    assert await d.generation() == 1  # not watching
    d.proc.send_signal(signal.SIGHUP)
    await d.wait_for("generation 2", lambda: _is(d.generation(), 2))
    assert [p["name"] for p in (await d.get("/status"))["providers"]] == ["second"]
    assert any(e["event"] == "config_restart_needed" and e["setting"] == "listen" for e in d.events)


async def test_an_api_key_file_change_reloads(tmp_path: Path, upstream: FakeUpstream, daemon: Start) -> None:
    key = tmp_path / "keys" / "p.key"
    key.parent.mkdir()
    key.write_text("sk-first-key-000000000\n")
    config = tmp_path / "config.yaml"
    config.write_text(provider_yaml("p", upstream.base_url, "    api_key_file: keys/p.key\n"))
    d = await daemon(config)
    key.write_text("sk-second-key-11111111\n")
    await d.wait_for("generation 2", lambda: _is(d.generation(), 2))
    async with aiohttp.ClientSession() as s, s.post(d.url + "/chat/completions", json={"model": "m"}) as resp:
        assert resp.status == 200
    assert upstream.last.headers["Authorization"] == "Bearer sk-second-key-11111111"
    logs = await d.stop()
    assert b"sk-first-key" not in logs and b"sk-second-key" not in logs


async def test_named_tokens_change_on_reload(tmp_path: Path, upstream: FakeUpstream, daemon: Start) -> None:
    """A person added to listen.tokens, or a token file rotated, takes effect without a restart."""
    (tmp_path / "alice.token").write_text("alice-first-token-0000\n")
    config = tmp_path / "config.yaml"
    alice = "listen:\n  tokens:\n    - {name: alice, token_file: alice.token}\n"
    bob = "    - {name: bob, token: bob-token-11111111}\n"
    config.write_text(alice + provider_yaml("p", upstream.base_url))
    d = await daemon(config)
    d.headers = {"Authorization": "Bearer alice-first-token-0000"}

    async def status_with(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as s, s.post(d.url + "/chat/completions", json={}) as r:
            return r.status

    assert await status_with("bob-token-11111111") == 401
    config.with_suffix(".new").write_text(alice + bob + provider_yaml("p", upstream.base_url))
    config.with_suffix(".new").rename(config)
    await d.wait_for("generation 2", lambda: _is(d.generation(), 2))
    assert await status_with("bob-token-11111111") == 200
    (tmp_path / "alice.token").write_text("alice-second-token-000\n")
    await d.wait_for("the rotated token to work", lambda: _is(status_with("alice-second-token-000"), 200))
    assert await status_with("alice-first-token-0000") == 401 and await status_with("alice-second-token-000") == 200
    logs = await d.stop()
    assert b"alice-first-token" not in logs and b"bob-token-1" not in logs and b"alice-second" not in logs


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


# --- in process: streams and pools across reloads ---------------------------------------------


async def test_a_stream_in_flight_survives_20_reloads(tmp_path: Path, upstream: FakeUpstream) -> None:
    go_on = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        tag = request.headers.get("X-Gen", "?")
        await resp.write(f'data: {{"gen": "{tag}", "choices": []}}\n\n'.encode())
        await go_on.wait()
        for i in range(5):
            await resp.write(f'data: {{"n": {i}, "choices": []}}\n\n'.encode())
        await resp.write(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
        return resp

    upstream.handler = stream
    config = tmp_path / "config.yaml"

    def write(gen: int) -> None:
        config.write_text(provider_yaml("p", upstream.base_url, f"    headers: {{X-Gen: '{gen}'}}\n"))

    write(0)
    running = await start(load_config(config), "test", ReloadFrom(config, watch=False))
    reloader = running.app[RELOADS]
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(running.url + "/chat/completions", json={"model": "m", "stream": True}) as resp:
                first = await resp.content.readany()
                for i in range(1, 21):
                    if i % 2:
                        write(i)
                    else:
                        config.write_text("providers: [oops\n")
                    assert await reloader.reload("test") == bool(i % 2)
                go_on.set()
                rest = await asyncio.wait_for(resp.content.read(), WAIT)
            body = first + rest
            assert b'"gen": "0"' in body and body.count(b'"n":') == 5 and body.endswith(b"data: [DONE]\n\n")
            async with s.post(running.url + "/chat/completions", json={"model": "m", "stream": True}) as resp:
                assert b'"gen": "19"' in await resp.content.readany()
                await resp.read()
        assert running.app[RUNTIME].current.number == 11
    finally:
        await running.runner.cleanup()


async def test_unchanged_providers_keep_their_pools(tmp_path: Path, upstream_factory: Any) -> None:
    a, b = await upstream_factory(), await upstream_factory()
    config = tmp_path / "config.yaml"

    def write(tag: str) -> None:
        config.write_text(
            "health: {interval_s: 0}\nproviders:\n"
            f"  - {{name: a, base_url: '{a.base_url}'}}\n"
            f"  - {{name: b, base_url: '{b.base_url}', headers: {{X-Tag: '{tag}'}}}}\n"
        )

    write("one")
    running = await start(load_config(config), "test", ReloadFrom(config, watch=False))
    runtime = running.app[RUNTIME]
    try:
        before = dict(runtime.current.pools)
        async with aiohttp.ClientSession() as s:
            async with s.post(running.url + "/chat/completions", json={"model": "a/m"}) as resp:
                assert resp.status == 200
            write("two")
            assert await running.app[RELOADS].reload("test")
            after = runtime.current.pools
            assert after["a"] is before["a"] and after["b"] is not before["b"]
            assert before["b"].retired and before["b"].leases == 0
            async with s.post(running.url + "/chat/completions", json={"model": "a/m"}) as resp:
                assert resp.status == 200
        assert len(a.peers) == 1  # both requests to `a` rode one kept-alive connection
    finally:
        await running.runner.cleanup()
