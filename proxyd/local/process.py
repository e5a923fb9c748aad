"""A local server as a child process: spawned in its own process group, bound to proxyd's life
by the kernel's parent-death signal, its output read line by line, stopped with SIGTERM then
SIGKILL.

The parent-death signal (Linux's ``PR_SET_PDEATHSIG``) kills the server when proxyd dies, even
by SIGKILL or a crash, when nothing of proxyd runs to stop it. It reaches the process proxyd
started, so a wrapper script should ``exec`` the server. proxyd itself stops the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from proxyd.config.settings import LocalServer

_PR_SET_PDEATHSIG = 1
_LINE_MAX = 4096  # longer output lines are cut: a log line, not a dump


def _die_with_parent() -> Callable[[], None] | None:
    """A function for the child, between fork and exec, that asks the kernel to kill it when
    proxyd dies (and kills it at once if proxyd died before it could ask); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return child


async def spawn(spec: LocalServer) -> asyncio.subprocess.Process:
    """Start the server (``OSError`` when its program cannot be run); stdout and stderr are one pipe."""
    env = {**os.environ, **dict(spec.env)}
    return await asyncio.create_subprocess_exec(
        *spec.argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=spec.cwd,
        env=env,
        start_new_session=True,  # its own process group: stopped as a whole, and deaf to a Ctrl-C of the terminal
        preexec_fn=_die_with_parent(),
        limit=_LINE_MAX * 4,
    )


async def read_lines(proc: asyncio.subprocess.Process, each: Callable[[str], None]) -> None:
    """Hand each line of the server's output to ``each`` until it closes its output."""
    stream = proc.stdout
    if stream is None:
        return
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # a line longer than the buffer: take what is there
            raw = await stream.read(_LINE_MAX)
        if not raw:
            return
        each(raw[:_LINE_MAX].decode("utf-8", "replace").rstrip())


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def stop(proc: asyncio.subprocess.Process, grace_s: float) -> int:
    """SIGTERM to its group, SIGKILL after ``grace_s``; its exit code."""
    if proc.returncode is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_s):
                return await proc.wait()
        except TimeoutError:
            pass
    _signal_group(proc, signal.SIGKILL)  # also what is left of the group after its leader went
    return await proc.wait()
