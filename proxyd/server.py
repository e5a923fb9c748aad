"""Running the daemon: the listening socket, the aiohttp runner, signals, systemd and a graceful stop.

Stopping (SIGTERM or SIGINT): proxyd tells systemd ``STOPPING=1`` and answers ``/readyz`` with
a 503, still serving for ``shutdown_delay_s`` (0 unless set: a load balancer's checks need a
moment to see it); then it stops accepting and lets the requests in flight finish for
``shutdown_grace_s``; streams still running then end with the wire's error event (never a
clean end), other requests get a 503. A second signal skips the rest of the delay and the
grace period. Either way proxyd exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from proxyd import __version__
from proxyd.access import exposure_problem, is_loopback
from proxyd.app import create_app, server_options
from proxyd.config.settings import Config, Keepalive, Listen
from proxyd.drain import DRAIN, Drain
from proxyd.notify import Notifier, activated_socket, watchdog_interval
from proxyd.observe import AccessWriter
from proxyd.protocol import Runner
from proxyd.reload import NOTIFIER, RELOADS, Reloader, announce
from proxyd.runtime import RUNTIME
from proxyd.upstream import apply_keepalive

# What a request cut at the end of the grace period gets to write its error event, and after a
# second signal; then the server closes whatever is left.
CUT_WAIT_S, FORCED_WAIT_S = 5.0, 1.0


class ListenError(Exception):
    pass


class ExposureError(ListenError):
    """A non-loopback address without ``listen.token``: a config problem, not a runtime one."""


def listen_socket(
    listen: Listen, ka: Keepalive, env: Mapping[str, str] | None = None, *, reuse_port: bool = False
) -> socket.socket:
    """The listening socket: the one systemd passed (socket activation), else a new one.

    Linux copies its keepalive options to every accepted socket. A non-loopback address is
    refused without ``listen.token``, however it was reached: the config, ``--host``, a name
    that resolves elsewhere, or a systemd socket.
    """
    sock = _activated(env) if env is not None else None
    if sock is None:
        sock = _bind(listen, reuse_port)
    apply_keepalive(sock, ka)
    problem = exposure_problem(str(sock.getsockname()[0]), listen.access)
    if problem is not None:
        sock.close()
        raise ExposureError(problem)
    sock.setblocking(False)
    return sock


def _activated(env: Mapping[str, str]) -> socket.socket | None:
    try:
        return activated_socket(env, os.getpid())
    except OSError as exc:
        raise ListenError(f"cannot use the socket systemd passed: {exc}") from None


def _bind(listen: Listen, reuse_port: bool = False) -> socket.socket:
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {listen.host}: {exc.strerror}") from None
    family, type_, proto, _, addr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # one of --workers N: the kernel spreads connections over the workers
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        hint = " (is another proxyd running? change listen.port)" if exc.errno == 98 else ""
        raise ListenError(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}{hint}") from None
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


@dataclass(frozen=True)
class Running:
    runner: web.AppRunner
    url: str  # the OpenAI base URL clients use, e.g. http://127.0.0.1:8787/v1
    port: int

    @property
    def app(self) -> web.Application:
        return self.runner.app


@dataclass(frozen=True)
class Worker:
    """This process is one of ``serve --workers N`` (see :mod:`proxyd.workers`)."""

    metrics_dir: str  # PROMETHEUS_MULTIPROC_DIR, shared by the workers


@dataclass(frozen=True)
class ReloadFrom:
    """Where a reload reads the config, and what proxyd does to it before use."""

    path: Path
    adjust: Callable[[Config], Config] | None = None  # command-line overrides
    watch: bool = True
    key_files: tuple[Path, ...] = ()
    on_load: Callable[[Config], None] | None = None  # e.g. teach the log redactor new keys


async def start(
    config: Config,
    source: str = "",
    reload_from: ReloadFrom | None = None,
    *,
    env: Mapping[str, str] | None = None,
    notifier: Notifier | None = None,
    worker: Worker | None = None,
    access_line: AccessWriter | None = None,
) -> Running:
    """Start serving ``config`` exactly as ``proxyd serve`` does; stop with ``runner.cleanup()``.

    ``env`` is where systemd's socket activation is looked for (``proxyd serve`` passes the
    process environment).
    """
    sock = listen_socket(config.listen, config.tcp_keepalive, env, reuse_port=worker is not None)
    metrics_dir = worker.metrics_dir if worker is not None else None
    app = create_app(config, source, metrics_dir=metrics_dir, access_line=access_line)
    if notifier is not None:
        app[NOTIFIER] = notifier
    if reload_from is not None:
        app[RELOADS] = Reloader(
            app,
            reload_from.path,
            reload_from.adjust,
            watch=reload_from.watch,
            key_files=reload_from.key_files,
            on_load=reload_from.on_load,
        )
    # The graceful stop drains requests itself (see _stop); aiohttp's own wait is the backstop.
    runner = Runner(app, handle_signals=False, shutdown_timeout=CUT_WAIT_S, **server_options(config))
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    runtime = app[RUNTIME]
    runtime.ready = True
    runtime.exposed = not is_loopback(str(sock.getsockname()[0]))
    return Running(runner=runner, url=base_url_of(sock), port=sock.getsockname()[1])


class _Signals:
    """SIGTERM/SIGINT: the first starts a graceful stop, the second cuts it short."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.first, self.second = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._received)

    def _received(self) -> None:
        (self.second if self.first.is_set() else self.first).set()


async def serve(
    config: Config,
    source: str,
    reload_from: ReloadFrom | None = None,
    worker: Worker | None = None,
    access_line: AccessWriter | None = None,
) -> None:
    log = structlog.get_logger("proxyd")
    notifier = Notifier.from_env(os.environ)
    running = await start(
        config, source, reload_from, env=os.environ, notifier=notifier, worker=worker, access_line=access_line
    )
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # not for any process proxyd might start
    loop = asyncio.get_running_loop()
    signals = _Signals(loop)
    reloader = running.app.get(RELOADS)
    reloads: set[asyncio.Task[bool]] = set()
    if reloader is not None:

        def on_hup() -> None:
            task = loop.create_task(reloader.reload("SIGHUP"))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
    log.info(
        "listening",
        url=running.url,
        page=running.url.removesuffix("/v1") + "/",
        version=__version__,
        config=source,
        providers=[p.name for p in config.providers],
        watching=bool(reloader and reloader.watch),
    )
    announce(config, log)
    # Log lines go out once per loop turn (log.Lines); yield one turn so they are written before
    # READY, which a supervisor may act on at once (and a line lost to a crash is a lie by omission).
    await asyncio.sleep(0)
    notifier.ready(f"serving {running.url} for {len(config.providers)} providers")
    watchdog = _start_watchdog(notifier)
    try:
        await signals.first.wait()
        await _stop(running, notifier, signals)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        notifier.close()


async def _stop(running: Running, notifier: Notifier, signals: _Signals) -> None:
    """Stop accepting, let requests in flight finish for ``shutdown_grace_s``, then cut the rest."""
    log = structlog.get_logger("proxyd")
    app, runner = running.app, running.runner
    runtime, drain = app[RUNTIME], app[DRAIN]
    grace = runtime.current.config.shutdown_grace_s
    runtime.ready = False
    notifier.stopping(f"stopping: {len(drain.tasks)} requests in flight")
    delay = runtime.current.config.shutdown_delay_s
    if delay > 0:  # /readyz says 503 while new requests are still served, until the balancer looks
        log.info("stopping_soon", delay_s=delay, in_flight=len(drain.tasks))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signals.second.wait(), delay)
    log.info("stopping", in_flight=len(drain.tasks), grace_s=grace)
    for site in list(runner.sites):
        await site.stop()  # no new connections
    if runner.server is not None:
        runner.server.pre_shutdown()  # idle keep-alive connections close; busy ones after their answer
    await asyncio.sleep(0)
    cut = 0
    if not await _settle_unless(drain, grace, signals.second):
        forced = signals.second.is_set()
        cut = drain.cut()
        log.warning("stopping_cut", requests=cut, why="second signal" if forced else "shutdown_grace_s is over")
        await drain.settle(FORCED_WAIT_S if forced else CUT_WAIT_S)
    await runner.cleanup()
    log.info("stopped", cut=cut)


async def _settle_unless(drain: Drain, grace_s: float, interrupt: asyncio.Event) -> bool:
    """Wait for the requests in flight to end; False when ``grace_s`` ran out or ``interrupt`` came first."""
    settle = asyncio.ensure_future(drain.settle(grace_s))
    waiters: set[asyncio.Future[Any]] = {settle, asyncio.ensure_future(interrupt.wait())}
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    return settle.done() and not settle.cancelled() and settle.result()


def _start_watchdog(notifier: Notifier) -> asyncio.Task[None] | None:
    interval = watchdog_interval(os.environ, os.getpid())
    if interval is None or not notifier.enabled:
        return None

    async def ping() -> None:
        # Runs on the event loop, so a loop stuck for longer than WatchdogSec gets proxyd restarted.
        while True:
            notifier.watchdog()
            await asyncio.sleep(interval)

    return asyncio.get_running_loop().create_task(ping())
