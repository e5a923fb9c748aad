"""proxyd as a service: sd_notify, socket activation, graceful and forced stops, credentials,
the exposure rules of ``serve`` (a real ``proxyd serve`` process each time)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream, paced_stream
from tests.helpers import STATE, WAIT, arun, eventually, run, start_serve, write

SECRET = "sk-credential-7d1e0c55aa"


def provider_config(path: Path, upstream: FakeUpstream, extra: str = "", provider: str = "") -> Path:
    return write(
        path,
        f"default_provider: p\n{extra}providers: [{{name: p, base_url: '{upstream.base_url}'{provider}}}]\n",
    )


class NotifySocket:
    """A datagram socket standing in for systemd's ``$NOTIFY_SOCKET``."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.setblocking(False)
        self.address = address
        self.messages: list[list[str]] = []

    async def next(self, wanted: str) -> list[str]:
        """The next message holding the line ``wanted`` (watchdog pings are kept in ``messages``)."""
        loop = asyncio.get_running_loop()
        while True:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), WAIT)
            lines = data.decode().split("\n")
            self.messages.append(lines)
            if wanted in lines:
                return lines


@pytest.mark.parametrize("abstract", [False, True])
async def test_sd_notify_messages_in_order(tmp_path: Path, upstream: FakeUpstream, abstract: bool) -> None:
    address = f"@proxyd-test-{os.getpid()}-{tmp_path.name}" if abstract else str(tmp_path / "notify.sock")
    notify = NotifySocket(address)
    config = provider_config(tmp_path / "c.yaml", upstream)
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"}
    proc, url = await start_serve(config, "--no-watch", env=env)
    try:
        ready = await notify.next("READY=1")
        assert f"STATUS=serving {url} for 1 providers" in ready
        proc.send_signal(signal.SIGHUP)
        reloading = await notify.next("RELOADING=1")
        assert any(line.startswith("MONOTONIC_USEC=") and int(line.split("=")[1]) > 0 for line in reloading)
        again = await notify.next("READY=1")
        assert "STATUS=config generation 2 in force" in again
        proc.send_signal(signal.SIGTERM)
        stopping = await notify.next("STOPPING=1")
        assert any(line.startswith("STATUS=stopping") for line in stopping)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
        notify.sock.close()
    kinds = [m[0] for m in notify.messages if m != ["WATCHDOG=1"]]
    assert kinds == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
    assert notify.messages.count(["WATCHDOG=1"]) >= 1  # every 0.1 s while it ran


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.mark.parametrize("endpoint", ["chat/completions", "responses"])
async def test_a_stream_past_the_grace_period_ends_with_an_error_event(
    tmp_path: Path, upstream: FakeUpstream, session: aiohttp.ClientSession, endpoint: str
) -> None:
    upstream.handler = paced_stream(900, 0.1, finish=False)  # 90 s: past any grace, and any slow VM, here
    config = provider_config(tmp_path / "c.yaml", upstream, "shutdown_grace_s: 0.5\n", ", wire: chat")
    proc, url = await start_serve(config)
    request = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}], "input": "hi"}
    async with session.post(f"{url}/{endpoint}", json=request) as resp:
        first = await resp.content.readany()
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(resp.content.read(), WAIT)
    assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    body = (first + rest).decode()
    events = body.strip().split("\n\n")
    if endpoint == "chat/completions":
        assert "[DONE]" not in body
        assert json.loads(events[-1].removeprefix("data: "))["error"]["code"] == "proxy_shutdown"
    else:
        failed = [e for e in events if e.startswith("event: response.failed")]
        assert len(failed) == 1 and "shutdown_grace_s" in failed[0]
        assert "response.completed" not in body
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert '"event": "stopping_cut"' in log and "shutdown_grace_s is over" in log


async def test_a_second_signal_cuts_the_grace_short(
    tmp_path: Path, upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.handler = paced_stream(900, 0.1, finish=False)  # 90 s: past any grace, and any slow VM, here
    config = provider_config(tmp_path / "c.yaml", upstream, "shutdown_grace_s: 600\n")
    proc, url = await start_serve(config)
    request = {"model": "m", "stream": True}
    async with session.post(f"{url}/chat/completions", json=request) as resp:
        await resp.content.readany()
        proc.send_signal(signal.SIGINT)

        async def listener_closed() -> bool:
            try:
                async with session.get(f"{url}/models"):
                    return False
            except aiohttp.ClientConnectionError:
                return True

        # Draining: the listening socket is closed, the stream still runs.
        await eventually(listener_closed, "the listening socket to close")
        assert proc.returncode is None
        proc.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(resp.content.read(), WAIT)  # far less than the 600 s grace
    assert b'"proxy_shutdown"' in rest and b"[DONE]" not in rest
    assert await asyncio.wait_for(proc.wait(), WAIT) == 0


async def test_a_request_waiting_for_its_answer_gets_503_past_the_grace(
    tmp_path: Path, upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    arrived = asyncio.Event()

    async def never(request: web.Request) -> web.Response:
        if request.method == "GET":  # the health probe
            return web.json_response({"object": "list", "data": []})
        arrived.set()
        await asyncio.sleep(60)
        return web.json_response({})

    upstream.handler = never
    config = provider_config(tmp_path / "c.yaml", upstream, "shutdown_grace_s: 0.3\n")
    proc, url = await start_serve(config)
    pending = asyncio.ensure_future(session.post(f"{url}/chat/completions", json={"model": "m"}))
    await asyncio.wait_for(arrived.wait(), WAIT)
    proc.send_signal(signal.SIGTERM)
    resp = await asyncio.wait_for(pending, WAIT)
    body = await resp.json()
    resp.release()
    assert resp.status == 503 and body["error"]["code"] == "proxy_shutdown"
    assert await asyncio.wait_for(proc.wait(), WAIT) == 0


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="needs systemd-socket-activate")
async def test_socket_activation(tmp_path: Path, upstream: FakeUpstream, session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = provider_config(tmp_path / "c.yaml", upstream)
    proc = await asyncio.create_subprocess_exec(
        "systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-E", "XDG_STATE_HOME", "-E", "PYTHONPATH",
        sys.executable, "-m", "proxyd", "serve", "--config", str(config), "--port", "1",
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **STATE, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), WAIT)
        assert b"Listening on" in line
        # proxyd starts on this first connection and takes the socket (not --port 1) from fd 3.
        async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "m"}) as resp:
            assert resp.status == 200
        while True:
            event = await asyncio.wait_for(proc.stderr.readline(), WAIT)
            if b'"listening"' in event:
                assert f"http://127.0.0.1:{port}/v1".encode() in event
                break
    finally:
        proc.send_signal(signal.SIGTERM)  # systemd-socket-activate execs proxyd: same pid
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0


async def test_non_loopback_bind_needs_a_token(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = provider_config(tmp_path / "c.yaml", upstream)
    refused = run("serve", "--config", str(config), "--host", "0.0.0.0", "--port", "0")
    assert refused.returncode == 2
    assert "listening on 0.0.0.0 lets other machines use your API keys: set listen.token" in refused.stderr
    guarded = provider_config(tmp_path / "t.yaml", upstream, "listen: {token: '${PROXYD_TOKEN}'}\n")
    proc, url = await start_serve(guarded, "--host", "0.0.0.0", env={"PROXYD_TOKEN": "tok-abcdef123"})
    local = url.replace("0.0.0.0", "127.0.0.1")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{local}/models") as resp:
                assert resp.status == 401
            async with session.get(f"{local}/models", headers={"Authorization": "Bearer tok-abcdef123"}) as resp:
                assert resp.status == 200
        # Dropping the token while exposed is refused on reload; the token stays in force.
        write(guarded, f"default_provider: p\nproviders: [{{name: p, base_url: '{upstream.base_url}'}}]\n")
        proc.send_signal(signal.SIGHUP)
        assert proc.stderr is not None
        while b"config_reload_failed" not in (line := await asyncio.wait_for(proc.stderr.readline(), WAIT)):
            pass
        assert b"the token stays required" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0


async def test_credentials_directory(tmp_path: Path, upstream: FakeUpstream) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    write(creds / "upstream_key", SECRET + "\n").chmod(0o400)
    config = provider_config(tmp_path / "c.yaml", upstream, provider=", credential: upstream_key")
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    code, out, _ = await arun("validate", "--config", str(config), env=env)
    assert code == 0 and "key=credential upstream_key" in out and SECRET not in out
    proc, url = await start_serve(config, env=env)
    try:
        async with aiohttp.ClientSession() as session, session.post(f"{url}/chat/completions", json={}) as resp:
            assert resp.status == 200
        assert upstream.last.headers["Authorization"] == f"Bearer {SECRET}"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), WAIT)
    assert proc.stderr is not None
    assert SECRET not in (await proc.stderr.read()).decode()
    missing = run("validate", "--config", str(config))
    assert missing.returncode == 2 and "$CREDENTIALS_DIRECTORY is not set" in missing.stderr


def test_a_readable_config_with_a_literal_key_gets_a_warning(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yaml", f"providers: [{{name: p, base_url: 'http://127.0.0.1:1/v1', api_key: {SECRET}}}]\n"
    )
    config.chmod(0o644)
    loose = run("validate", "--config", str(config))
    assert loose.returncode == 0
    assert "holds literal secrets (providers[0].api_key) and other users can read it: chmod 600" in loose.stderr
    assert SECRET not in loose.stderr + loose.stdout
    config.chmod(0o600)
    assert "warning" not in run("validate", "--config", str(config)).stderr


def test_shipped_example_validates_without_warnings() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "proxyd", "validate", "--config", "config/example.yaml"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
