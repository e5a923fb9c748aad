"""``proxyd serve --workers N``: real processes on one SO_REUSEPORT port, metrics summed over
them, systemd told once, signals passed on, a dead worker replaced."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import FakeUpstream
from tests.helpers import STATE, WAIT, arun
from tests.test_service import NotifySocket, provider_config


class Workers:
    """A ``serve --workers 2`` process whose JSON log lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            try:
                self.events.append(json.loads(line))
            except ValueError:  # a traceback from a worker that failed
                self.events.append({"event": "text", "text": line.decode()})
            self._new.set()

    async def wait_for(self, event: str, count: int = 1) -> list[dict[str, Any]]:
        try:
            async with asyncio.timeout(WAIT):
                while len(found := [e for e in self.events if e["event"] == event]) < count:
                    self._new.clear()
                    await self._new.wait()
        except TimeoutError:  # say what the workers did say
            lines = "\n".join(json.dumps(e) for e in self.events)
            raise AssertionError(f"{count} {event!r} lines not seen in {WAIT}s; the log:\n{lines}") from None
        return found

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return sorted(int(pid) for pid in children)

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), WAIT)
        await self._reader
        return code


async def start_workers(config: Path, env: dict[str, str] | None = None) -> Workers:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxyd", "serve", "--config", str(config), "--port", "0", "--workers", "2",
        "--log-format", "json", "--no-watch",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env={**os.environ, **STATE, **(env or {})},
    )  # fmt: skip
    return Workers(proc)


@pytest.fixture
async def workers(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[Workers]:
    w = await start_workers(provider_config(tmp_path / "c.yaml", upstream))
    await w.wait_for("workers_ready")
    yield w
    await w.stop()


def url_of(w: Workers) -> str:
    return str(w.events[[e["event"] for e in w.events].index("listening")]["url"])


async def new_connection_requests(url: str, count: int) -> None:
    for _ in range(count):  # a new connection each: the kernel picks a worker per connection
        async with aiohttp.ClientSession() as s, s.post(f"{url}/chat/completions", json={"model": "m"}) as resp:
            assert resp.status == 200


def series(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def test_two_workers_share_the_port_and_the_metrics(workers: Workers) -> None:
    listening = await workers.wait_for("listening", 2)
    url = url_of(workers)
    assert {e["url"] for e in listening} == {url} and {e["worker"] for e in listening} == {"0", "1"}
    await new_connection_requests(url, 40)
    served = {e["worker"] for e in workers.events if e["event"] == "request"}
    assert served == {"0", "1"}  # all 40 on one worker: odds of 2^-39
    for _ in range(4):  # whichever worker answers /metrics, it counts every worker's requests
        async with aiohttp.ClientSession() as s, s.get(url.removesuffix("/v1") + "/metrics") as resp:
            text = await resp.text()
        done = 'proxyd_requests_total{client="default",endpoint="chat.completions",provider="p",status="200"}'
        assert series(text, done) == 40
        assert series(text, 'proxyd_inflight_requests{provider="p"}') == 0
        assert series(text, "proxyd_request_duration_seconds_count") == 40
        assert 'proxyd_build_info{version="' in text
    assert await workers.stop() == 0
    stopped = [e for e in workers.events if e["event"] in ("stopped", "workers_stopped")]
    assert [e["event"] for e in stopped].count("stopped") == 2 and stopped[-1]["event"] == "workers_stopped"


async def test_a_dead_worker_is_replaced(workers: Workers) -> None:
    url = url_of(workers)
    first = workers.pids()
    assert len(first) == 2
    os.kill(first[0], signal.SIGKILL)
    died = await workers.wait_for("worker_died")
    assert died[0]["exit_code"] == -signal.SIGKILL
    await workers.wait_for("listening", 3)
    assert len(set(workers.pids()) - set(first)) == 1
    await new_connection_requests(url, 10)


async def test_systemd_hears_ready_once_for_all_workers(tmp_path: Path, upstream: FakeUpstream) -> None:
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    env = {"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "200000"}
    w = await start_workers(provider_config(tmp_path / "c.yaml", upstream), env)
    try:
        ready = await notify.next("READY=1")
        assert "STATUS=serving with 2 workers" in ready
        assert len(await w.wait_for("listening", 2)) == 2  # READY came after both were listening
        w.proc.send_signal(signal.SIGTERM)
        await notify.next("STOPPING=1")
        assert await w.stop() == 0
    finally:
        notify.sock.close()
        if w.proc.returncode is None:
            w.proc.kill()
    kinds = [m[0] for m in notify.messages if m != ["WATCHDOG=1"]]
    assert kinds == ["READY=1", "STOPPING=1"]  # the workers told the supervisor, not systemd
    assert ["WATCHDOG=1"] in notify.messages


async def test_sighup_reloads_every_worker(workers: Workers) -> None:
    workers.proc.send_signal(signal.SIGHUP)
    reloads = await workers.wait_for("config_reloaded", 2)
    assert {e["worker"] for e in reloads} == {"0", "1"}


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (("--workers", "0"), "is not a number of workers"),
        (("--workers", "2", "--host", "0.0.0.0"), "listen.token"),
    ],
)
async def test_workers_refuse_bad_settings(
    tmp_path: Path, upstream: FakeUpstream, args: tuple[str, ...], wanted: str
) -> None:
    config = provider_config(tmp_path / "c.yaml", upstream)
    code, _, err = await arun("serve", "--config", str(config), "--port", "0", *args)
    assert code == 2 and wanted in err


async def test_a_worker_failing_at_start_stops_them_all(tmp_path: Path, upstream: FakeUpstream) -> None:
    # The response store cannot be created there: each worker fails as it starts.
    w = await start_workers(provider_config(tmp_path / "c.yaml", upstream), {"XDG_STATE_HOME": "/proc/no-such-dir"})
    assert await asyncio.wait_for(w.proc.wait(), WAIT) == 1
    await w._reader
    assert [e["event"] for e in w.events if e["event"].startswith("worker")][-1:] == ["workers_stopped"]
    assert any(e["event"] == "worker_failed_to_start" for e in w.events)
