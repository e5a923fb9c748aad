"""``proxyd serve --workers N``: N serving processes on one port, and a supervisor.

One Python process is one core's worth of proxying; more workers use more cores. The
supervisor (this module) binds the port first, so ``--port 0`` is resolved once and a port in
use is reported before anything starts. Each worker is a plain ``proxyd serve`` that binds its
own ``SO_REUSEPORT`` socket on that port, so the kernel spreads new connections over the
workers. (Any process of the same user can join such a port; that is the price of the spread.)

- Metrics: workers run with ``PROMETHEUS_MULTIPROC_DIR`` in a private directory, and every
  ``/metrics`` answer, from whichever worker, sums them all. A worker's files are marked dead
  when it exits, so in-flight gauges drop it.
- systemd: workers report to the supervisor's own notify socket; the supervisor tells systemd
  ``READY=1`` once every worker is, pings the watchdog and reports stopping.
- Signals: SIGHUP, SIGTERM and SIGINT are passed to every worker (a second SIGTERM still cuts
  the grace period short). A worker that dies is started again after a second; a worker that
  fails before it ever served stops them all, with its exit code.
- Each worker is otherwise independent: it watches the config, probes health, learns which
  providers lack ``/responses`` and serves ``/status`` for itself.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from proxyd.access import exposure_problem
from proxyd.config.settings import Listen
from proxyd.notify import Notifier, watchdog_interval
from proxyd.page.csrf import SECRET_ENV

RESTART_DELAY_S = 1.0
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_NOT_FOR_WORKERS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


class WorkersError(Exception):
    """The workers cannot start: the message says why; ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def reserve_port(listen: Listen) -> socket.socket:
    """A bound (not listening) ``SO_REUSEPORT`` socket that holds the port for the workers."""
    try:
        family, type_, proto, _, addr = socket.getaddrinfo(
            listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise WorkersError(f"cannot listen on {listen.host}: {exc.strerror}", 1) from None
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise WorkersError(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}", 1) from None
    problem = exposure_problem(str(sock.getsockname()[0]), listen.access)
    if problem is not None:
        sock.close()
        raise WorkersError(problem, 2)
    return sock


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    served: bool = False  # was ready at least once


@dataclass
class Supervisor:
    """Starts, watches and stops ``count`` workers running ``command`` (+ ``--port``)."""

    count: int
    command: Sequence[str]
    listen: Listen

    async def run(self) -> int:
        log = structlog.get_logger("proxyd")
        if os.environ.get("LISTEN_FDS"):
            raise WorkersError("--workers cannot share a socket systemd passed: drop proxyd.socket or --workers", 2)
        reserved = reserve_port(self.listen)
        state = Path(tempfile.mkdtemp(prefix="proxyd-workers-"))
        port = reserved.getsockname()[1]
        try:
            (state / "metrics").mkdir()
            inbox = _inbox(state / "notify")
            env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_WORKERS}
            env.update(PROMETHEUS_MULTIPROC_DIR=str(state / "metrics"), NOTIFY_SOCKET=str(state / "notify"))
            env[SECRET_ENV] = secrets.token_hex(32)  # a page served by one worker is good at all
            run = _Run(self, [*self.command, "--port", str(port), "--reuse-port"], env, inbox, state / "metrics")
            log.info("workers_starting", workers=self.count, port=port)
            return await run.until_stopped()
        finally:
            reserved.close()
            shutil.rmtree(state, ignore_errors=True)


def _inbox(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.bind(str(path))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # tells which worker wrote
    sock.setblocking(False)
    return sock


class _Run:
    def __init__(self, sup: Supervisor, argv: list[str], env: dict[str, str], inbox: socket.socket, metrics: Path):
        self.sup, self.argv, self.env, self.inbox, self.metrics = sup, argv, env, inbox, metrics
        self.workers = [_Worker(i) for i in range(sup.count)]
        self.notifier = Notifier.from_env(os.environ)
        self.stopping = False
        self.failed: int | None = None
        self.announced = False
        self.log = structlog.get_logger("proxyd")

    async def until_stopped(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.inbox.fileno(), self._message)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self._signal, sig)
        watchdog = loop.create_task(self._watchdog())
        try:
            await asyncio.gather(*(self._keep(w) for w in self.workers))
        finally:
            watchdog.cancel()
            loop.remove_reader(self.inbox.fileno())
            self.inbox.close()
            self.notifier.close()
        self.log.info("workers_stopped", workers=self.sup.count)
        return self.failed or 0

    async def _keep(self, worker: _Worker) -> None:
        """Run one worker until the supervisor stops, restarting it when it dies."""
        while not self.stopping:
            worker.ready = False
            worker.process = await asyncio.create_subprocess_exec(
                *self.argv, env={**self.env, "PROXYD_WORKER": str(worker.index)}
            )
            code = await worker.process.wait()
            _mark_dead(self.metrics, worker.process.pid)
            if self.stopping:
                return
            if not worker.served:
                self.log.error("worker_failed_to_start", worker=worker.index, exit_code=code)
                self.failed = code or 1
                self._stop_all(signal.SIGTERM)
                return
            self.log.error("worker_died", worker=worker.index, exit_code=code, restart_in_s=RESTART_DELAY_S)
            await asyncio.sleep(RESTART_DELAY_S)

    def _signal(self, sig: signal.Signals) -> None:
        if sig == signal.SIGHUP:
            self._send_all(sig)
            return
        if not self.stopping:
            self.notifier.stopping(f"stopping {self.sup.count} workers")
        self._stop_all(sig)

    def _stop_all(self, sig: signal.Signals) -> None:
        self.stopping = True
        self._send_all(sig)

    def _send_all(self, sig: signal.Signals) -> None:
        for w in self.workers:
            if w.process is not None and w.process.returncode is None:
                w.process.send_signal(sig)

    def _message(self) -> None:
        try:
            data, ancillary, _, _ = self.inbox.recvmsg(4096, socket.CMSG_SPACE(_CRED.size))
        except OSError:
            return
        pid = next(
            (_CRED.unpack(d[: _CRED.size])[0] for lvl, kind, d in ancillary if kind == socket.SCM_CREDENTIALS), None
        )
        worker = next((w for w in self.workers if w.process is not None and w.process.pid == pid), None)
        if worker is None or b"READY=1" not in data.split(b"\n"):
            return
        worker.ready = worker.served = True
        if not self.announced and all(w.ready for w in self.workers):
            self.announced = True
            self.log.info("workers_ready", workers=self.sup.count)
            # After the flush log.Lines scheduled, so the line is out before systemd hears READY.
            asyncio.get_running_loop().call_soon(self.notifier.ready, f"serving with {self.sup.count} workers")

    async def _watchdog(self) -> None:
        interval = watchdog_interval(os.environ, os.getpid())
        if interval is None or not self.notifier.enabled:
            return
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)


def _mark_dead(directory: Path, pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
