"""Running the local servers: one :class:`Server` record per provider with a ``command``, moved
through :mod:`proxyd.local.plan`'s table by the requests that need it, the idle timer, the admin's
buttons and the process's own exit.

A request holds its server (:meth:`Local.hold`) from before it waits until its answer is done,
so a server is never stopped under a request. Starts are made one at a time, each after the room
it needs (``local.max_running``, ``local.memory``) is made by stopping idle servers, least
recently used first; when every other server is busy, the start waits for one to be done.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from proxyd.config.settings import Config, LocalLimits, LocalServer, Provider
from proxyd.diagnosis import Diagnosis
from proxyd.errors import ProxyError
from proxyd.local import process
from proxyd.local.plan import RUNNING, Event, Running, State, backoff_s, make_room, move, port_of, ready_url
from proxyd.local.window import read_window
from proxyd.metrics import Metrics
from proxyd.reachability import ProviderHealth
from proxyd.redact import redact_text, secrets_of

LAST_LINES = 30
_POLL_S = 0.2  # between two ready checks of a starting server
_IDLE_TICK_S = 1.0


class Server:
    """One local server's record (mutable: the supervisor's own)."""

    def __init__(self, provider: Provider, spec: LocalServer, model: str | None = None) -> None:
        # A provider's one server, or one of its models' (each on the provider's port, in turn).
        self.name = provider.name if model is None else f"{provider.name}/{model}"
        self.provider = provider
        self.spec = spec
        self.url = ready_url(provider.base_url, spec)
        self.port = port_of(provider.base_url)
        self.state: State = "stopped"
        self.since = time.time()
        self.proc: asyncio.subprocess.Process | None = None
        self.busy = 0  # requests in flight or waiting for it
        self.last_used = 0.0
        self.failures = 0  # failed starts in a row
        self.failed_at = 0.0
        self.error: Diagnosis | None = None  # why it stopped when it should not have
        self.lines: deque[str] = deque(maxlen=LAST_LINES)
        self.load_s: float | None = None
        self.window: int | None = None  # its context, as the server says (llama.cpp's /props, vLLM's listing)
        self.starting: asyncio.Task[None] | None = None

    def running(self) -> Running:
        return Running(self.name, self.state, self.spec.memory, self.busy, self.last_used, self.port)

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "state": self.state,
            "for_s": round(now - self.since, 1),
            "pid": self.proc.pid if self.proc is not None and self.state in RUNNING else None,
            "busy": self.busy,
            "idle_s": round(time.monotonic() - self.last_used, 1) if self.last_used and not self.busy else None,
            "load_s": self.load_s,
            "memory": self.spec.memory or None,
            "idle_unload_s": self.spec.idle_unload_s,
            "context_window": self.window,
            "error": self.error.cause if self.error else None,
            "diagnosis": self.error.as_json() if self.error else None,  # the page says it in its reader's language
            "retry_in_s": round(max(0.0, self.failed_at + backoff_s(self.failures) - now), 1) or None,
            "last_lines": list(self.lines) if self.state == "crashed" else [],
        }


class Local:
    """Every local server of the config in force; the app's one instance (:data:`LOCAL`)."""

    def __init__(self, metrics: Metrics, health: dict[str, ProviderHealth]) -> None:
        self.metrics = metrics
        self.health = health  # the runtime's provider health records
        self.secrets: set[str] = set()  # the config's keys, blanked from the servers' output before it is logged
        self.servers: dict[str, Server] = {}
        self.limits = LocalLimits()
        self.changed = asyncio.Condition()
        self._room = asyncio.Lock()  # one start at a time makes its room
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = structlog.get_logger("proxyd.local")

    # --- the config ---------------------------------------------------------------------------

    def sync(self, config: Config) -> None:
        """Take a config in force: new servers are known (stopped), changed or removed ones stop."""
        self.limits, self.secrets = config.local, secrets_of(config)
        wanted = dict(_servers_of(config))
        for name, server in list(self.servers.items()):
            now = wanted.get(name)
            if now is not None and (now[1], now[0].base_url) == (server.spec, server.provider.base_url):
                server.provider = now[0]  # its other settings (models, timeouts...) follow the config
                continue
            del self.servers[name]
            if server.state in RUNNING:
                self._later(self._stop(server, "reload"))
        for name, (provider, spec, model) in wanted.items():
            if name not in self.servers:
                self.servers[name] = Server(provider, spec, model)
                self.metrics.local_state(name, "stopped")
        for provider_name in {p.name for p, _, _ in wanted.values()}:
            self._asleep(provider_name)  # a record a reload made afresh: not probed while not running

    def server_for(self, provider: str, model: str | None) -> Server | None:
        """The server a request for ``model`` of ``provider`` needs: the model's own, or the provider's."""
        return (model is not None and self.servers.get(f"{provider}/{model}")) or self.servers.get(provider)

    def _asleep(self, provider: str) -> None:
        """A provider none of whose servers is ready is not probed (a probe would not start one)."""
        if provider in self.health:
            ready = any(s.state == "ready" for s in self.servers.values() if s.provider.name == provider)
            self.health[provider].asleep = not ready

    # --- requests -----------------------------------------------------------------------------

    def hold(self, server: Server) -> None:
        server.busy += 1
        server.last_used = time.monotonic()

    async def release(self, server: Server) -> None:
        server.busy -= 1
        server.last_used = time.monotonic()
        await self._changed()

    async def until_ready(self, server: Server) -> None:
        """Start the server if it is not running, and wait until it answers (its start timeout
        at most); a crash or a timeout raises the error its requests get."""
        try:
            await self._until_ready(server)
        except TimeoutError:
            raise ProxyError(
                503,
                f"local server {server.name!r} did not become ready within ready.timeout_s "
                f"({server.spec.start_timeout_s:g} s){self._waiting_for_room(server)}; its start goes on: try again",
                type="server_error",
                code="local_server_failed",
            ) from None
        if server.name not in self.servers:
            raise ProxyError(503, f"local server {server.name!r} was removed from the config", code="local_removed")

    def _waiting_for_room(self, server: Server) -> str:
        busy = [s.name for s in self.servers.values() if s is not server and s.state in RUNNING and s.busy]
        return (
            f", waiting for room while {', '.join(busy)} answered requests"
            if server.state == "stopped" and busy
            else ""
        )

    async def _until_ready(self, server: Server) -> None:
        async with asyncio.timeout(server.spec.start_timeout_s):
            while server.state != "ready":
                if server.state in ("stopped", "crashed") and server.starting is None:
                    self._check_backoff(server)
                    server.starting = self._later(self._start(server))
                async with self.changed:
                    await self.changed.wait_for(lambda: server.state == "ready" or server.starting is None)
                if server.state == "crashed" and server.starting is None:
                    raise self._crash_error(server)

    def _check_backoff(self, server: Server) -> None:
        wait = server.failed_at + backoff_s(server.failures) - time.time()
        if server.state == "crashed" and wait > 0:
            raise self._crash_error(server, wait)

    def _crash_error(self, server: Server, wait: float = 0.0) -> ProxyError:
        tail = " | ".join(list(server.lines)[-3:])
        again = f"; proxyd starts it again in {wait:.0f} s" if wait > 0 else ""
        error = ProxyError(
            503,
            f"{server.error.cause if server.error else f'local server {server.name!r} stopped'}{again}. "
            f"Its last output: {tail or '(none)'}. "
            "Fix its command in the config (proxyd's log has all of its output)",
            type="server_error",
            code="local_server_failed",
        )
        if wait > 0:
            error.headers = {"Retry-After": str(max(1, round(wait)))}
        return error

    # --- starting and stopping ----------------------------------------------------------------

    async def start(self, name: str) -> None:
        """The admin's Start: as a request would, without one."""
        server = self._server(name)
        server.failures = 0  # a person asked: no backoff
        self.hold(server)
        try:
            await self.until_ready(server)
        finally:
            await self.release(server)

    async def stop(self, name: str, reason: str = "admin") -> None:
        server = self._server(name)
        if server.busy:
            raise ProxyError(409, f"local server {name!r} is answering {server.busy} request(s); stop it when they are "
                                  "done", code="local_busy")  # fmt: skip
        if server.starting is not None:
            server.starting.cancel()
        await self._stop(server, reason)

    def _server(self, name: str) -> Server:
        server = self.servers.get(name)
        if server is None:
            raise ProxyError(404, f"no local server named {name!r} (a provider with a command)",
                             code="unknown_provider")  # fmt: skip
        return server

    async def _start(self, server: Server) -> None:
        try:
            async with self._room:
                await self._make_room(server)
                await self._spawn(server)
            await self._wait_ready(server)
        except asyncio.CancelledError:
            if server.state in RUNNING:
                await self._stop(server, "cancelled")
            raise
        finally:
            server.starting = None
            await self._changed()

    async def _make_room(self, server: Server) -> None:
        while True:
            running = (s.running() for s in self.servers.values())
            room = make_room(running, self.limits, server.name, server.spec.memory, server.port)
            for name in room.stop:
                await self._stop(self.servers[name], "room")
            if room.enough:
                return
            self._log.info("local_waiting_for_room", provider=server.name)
            async with self.changed:
                await self.changed.wait()

    async def _spawn(self, server: Server) -> None:
        server.lines.clear()
        server.error = None
        try:
            proc = await process.spawn(server.spec)
        except OSError as exc:
            self._set(server, "failed")
            why = {"error": exc.strerror or str(exc), "program": server.spec.argv[0]}
            self._failed(server, Diagnosis("local_unstartable", {"name": server.name, **why}))
            return
        server.proc = proc
        self._set(server, "spawn")
        self.metrics.local_starts.labels(server.name).inc()
        self._log.info("local_starting", provider=server.name, pid=proc.pid)
        self._later(process.read_lines(proc, lambda line: self._output(server, line)))
        self._later(self._watch(server, proc))

    async def _wait_ready(self, server: Server) -> None:
        if server.state != "starting":
            return
        began = time.monotonic()
        session = self._http()
        timeout = aiohttp.ClientTimeout(total=2.0)
        try:
            async with asyncio.timeout(server.spec.start_timeout_s):
                while server.state == "starting":
                    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                        async with session.get(server.url, timeout=timeout) as resp:
                            if resp.status == 200 and server.state == "starting":
                                break
                    await asyncio.sleep(_POLL_S)
        except TimeoutError:
            self._set(server, "timed_out")
            await self._stop(server, "start_timeout")
            self._set(server, "failed")
            waited = Diagnosis("local_not_ready", {"name": server.name, "url": server.url,
                                                   "seconds": server.spec.start_timeout_s})  # fmt: skip
            self._failed(server, waited)
            return
        if server.state != "starting":
            return  # it exited while loading: _watch said why
        server.load_s = round(time.monotonic() - began, 3)
        server.window = await read_window(session, server.provider)
        self._set(server, "answered")
        server.failures = 0
        self.metrics.local_start_seconds.labels(server.name).observe(server.load_s)
        self._log.info("local_ready", provider=server.name, load_s=server.load_s, context_window=server.window)
        if server.provider.name in self.health:
            self.health[server.provider.name].local(True, None, time.time())

    async def _watch(self, server: Server, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if server.proc is not proc:
            return
        if server.state == "stopping":
            self._set(server, "exited")
            self._log.info("local_stopped", provider=server.name, exit_code=code)
        elif server.state in ("starting", "ready"):
            was = server.state
            self._set(server, "exited")
            code_ = "local_exited_loading" if was == "starting" else "local_exited_serving"
            self._failed(server, Diagnosis(code_, {"name": server.name, "code": code}), counts=was == "starting")
        await self._changed()

    def _failed(self, server: Server, error: Diagnosis, counts: bool = True) -> None:
        server.error = error
        if counts:
            server.failures += 1
        server.failed_at = time.time()
        self.metrics.local_crashes.labels(server.name).inc()
        self.metrics.local_state(server.name, server.state)
        self._log.warning("local_crashed", provider=server.name, error=error.cause, last_lines=list(server.lines)[-5:])
        if server.provider.name in self.health:
            self.health[server.provider.name].local(False, error.cause, time.time())

    async def _stop(self, server: Server, reason: str) -> None:
        proc = server.proc
        if proc is None or server.state not in RUNNING:
            return
        if server.state != "stopping":
            self._set(server, "stop")
            self._log.info("local_stopping", provider=server.name, reason=reason)
            self.metrics.local_stops.labels(server.name, reason).inc()
        await process.stop(proc, server.spec.stop_grace_s)
        if server.state == "stopping":
            self._set(server, "exited")
        if server.error is None:
            self._asleep(server.provider.name)
        await self._changed()

    def _set(self, server: Server, event: Event) -> None:
        server.state, server.since = move(server.state, event), time.time()
        self.metrics.local_state(server.name, server.state)

    def _output(self, server: Server, line: str) -> None:
        line = redact_text(line, self.secrets)
        server.lines.append(line)
        self._log.info("local_output", provider=server.name, line=line)

    # --- the idle timer and the end -----------------------------------------------------------

    async def run_idle(self) -> None:
        """Stop each server idle past its ``idle_unload_s``."""
        while True:
            await asyncio.sleep(_IDLE_TICK_S)
            now = time.monotonic()
            for server in list(self.servers.values()):
                idle = server.spec.idle_unload_s
                if idle is not None and server.state == "ready" and not server.busy and now - server.last_used >= idle:
                    await self._stop(server, "idle")

    async def close(self) -> None:
        for server in self.servers.values():
            if server.starting is not None:
                server.starting.cancel()
        await asyncio.gather(*(self._stop(s, "shutdown") for s in self.servers.values()), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def report(self) -> dict[str, dict[str, Any]]:
        now = time.time()
        return {name: server.as_json(now) for name, server in self.servers.items()}

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _changed(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def _later(self, work: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _servers_of(config: Config) -> list[tuple[str, tuple[Provider, LocalServer, str | None]]]:
    """Every server the config has proxyd run, by name: a provider's, or each of its models'."""
    found: list[tuple[str, tuple[Provider, LocalServer, str | None]]] = []
    for p in config.providers:
        if p.disabled is not None:
            continue
        if p.local is not None:
            found.append((p.name, (p, p.local, None)))
        found += [(f"{p.name}/{m.id}", (p, m.local, m.id)) for m in p.models if m.local is not None]
    return found


LOCAL = web.AppKey("local", Local)
