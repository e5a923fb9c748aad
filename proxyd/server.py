"""Running the daemon: the listening socket, the aiohttp runner, signals and a graceful stop."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from proxyd import __version__
from proxyd.app import create_app, server_options
from proxyd.config import Config, Keepalive, Listen
from proxyd.reload import RELOADS, Reloader
from proxyd.runtime import RUNTIME
from proxyd.upstream import apply_keepalive

DRAIN_SECONDS = 30.0  # on SIGTERM, requests in flight get this long to finish


class ListenError(Exception):
    pass


def listen_socket(listen: Listen, ka: Keepalive) -> socket.socket:
    """Bind the listening socket. Linux copies its keepalive options to every accepted socket."""
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {listen.host}: {exc.strerror}") from None
    family, type_, proto, _, addr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        apply_keepalive(sock, ka)
        sock.bind(addr)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        hint = " (is another proxyd running? change listen.port)" if exc.errno == 98 else ""
        raise ListenError(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}{hint}") from None
    sock.setblocking(False)
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
class ReloadFrom:
    """Where a reload reads the config, and what proxyd does to it before use."""

    path: Path
    adjust: Callable[[Config], Config] | None = None  # command-line overrides
    watch: bool = True
    key_files: tuple[Path, ...] = ()
    on_load: Callable[[Config], None] | None = None  # e.g. teach the log redactor new keys


async def start(config: Config, source: str = "", reload_from: ReloadFrom | None = None) -> Running:
    """Start serving ``config`` exactly as ``proxyd serve`` does; stop with ``runner.cleanup()``."""
    sock = listen_socket(config.listen, config.tcp_keepalive)
    app = create_app(config, source)
    if reload_from is not None:
        app[RELOADS] = Reloader(
            app,
            reload_from.path,
            reload_from.adjust,
            watch=reload_from.watch,
            key_files=reload_from.key_files,
            on_load=reload_from.on_load,
        )
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=DRAIN_SECONDS, **server_options(config))
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    app[RUNTIME].ready = True
    return Running(runner=runner, url=base_url_of(sock), port=sock.getsockname()[1])


async def serve(config: Config, source: str, reload_from: ReloadFrom | None = None) -> None:
    log = structlog.get_logger("proxyd")
    running = await start(config, source, reload_from)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
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
        version=__version__,
        config=source,
        providers=[p.name for p in config.providers],
        watching=bool(reloader and reloader.watch),
    )
    try:
        await stop.wait()
        log.info("stopping", drain_s=DRAIN_SECONDS)
        running.app[RUNTIME].ready = False
    finally:
        await running.runner.cleanup()
        log.info("stopped")
