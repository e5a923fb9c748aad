"""Real servers a test starts and stops: redis-server and haproxy, each on a free loopback port,
in the test's temporary directory, stopped by its PID (.ci/run installs Debian's packages)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import WAIT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Daemon:
    """A server process of the test's own; ``stop`` and ``kill`` go to its PID only."""

    def __init__(self, args: list[str], port: int, log: Path) -> None:
        self.args, self.port, self.log = args, port, log
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT
        while not listening(self.port):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"{self.args[0]} did not listen on {self.port}: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)
        return proc

    def kill(self) -> None:
        """As a crash: SIGKILL, nothing saved, the port closed at once."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)

    def restart(self) -> None:
        self.proc = self._spawn()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.kill()


def redis_server(directory: Path, *, password: str | None = None) -> Daemon:
    """A throwaway redis-server: loopback only, nothing written to disk."""
    port = free_port()
    args = [
        required("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
        "--save", "", "--appendonly", "no", "--daemonize", "no",
    ]  # fmt: skip
    if password:
        args += ["--requirepass", password]
    return Daemon(args, port, directory / f"redis-{port}.log")


def haproxy(config: Path, port: int) -> Daemon:
    """HAProxy in the foreground (``-db``) with ``config``, which must bind 127.0.0.1:``port``."""
    return Daemon([required("haproxy"), "-db", "-f", str(config)], port, config.with_suffix(".log"))


def required(binary: str) -> str:
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.skip(f"{binary} is not installed (.ci/run installs Debian's redis-server and haproxy)")
    return found
