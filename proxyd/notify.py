"""systemd's service protocol: sd_notify messages, the watchdog and socket activation.

sd_notify is one datagram of ``KEY=value`` lines to the ``AF_UNIX`` socket named in
``$NOTIFY_SOCKET`` (a leading ``@`` means Linux's abstract namespace). Without the variable
every call is a no-op, so the same code runs under systemd, in a container and in a terminal.
A send that fails is logged once and otherwise ignored: systemd being away must never stop
proxyd from serving.

Socket activation hands proxyd its listening socket as file descriptor 3, with ``LISTEN_FDS``
and ``LISTEN_PID`` (which must be this process) in the environment.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

LISTEN_FDS_START = 3


class Notifier:
    def __init__(self, address: str | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Notifier:
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> None:
        if self.address is None or not lines:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(lines).encode(), target)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                structlog.get_logger("proxyd").warning(
                    "sd_notify_failed", socket=self.address, error=exc.strerror or type(exc).__name__
                )

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd (253+) tell this reload from an earlier one.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half of ``$WATCHDOG_USEC``, when it is meant for us."""
    usec, owner = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    if owner and owner != str(pid):
        return None
    return int(usec) / 2_000_000


def activated_socket(env: Mapping[str, str], pid: int) -> socket.socket | None:
    """The listening socket systemd passed (``proxyd.socket``), or ``None`` when not activated."""
    fds, owner = env.get("LISTEN_FDS"), env.get("LISTEN_PID")
    if not fds or not fds.isdigit() or int(fds) < 1 or owner != str(pid):
        return None
    sock = socket.socket(fileno=LISTEN_FDS_START)
    os.set_inheritable(sock.fileno(), False)
    if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
        sock.detach()
        raise OSError("it is not a TCP socket: use ListenStream=127.0.0.1:8787 in proxyd.socket")
    return sock
