"""The requests in flight, for a graceful stop: wait for them, then cut what is left.

The guard registers every request that passes in :class:`Drain` while it runs, so that a stop
can wait for it and, once ``shutdown_grace_s`` is over, cut it: the request's task is cancelled
with :data:`SHUTDOWN`, and the relay ends a stream with the wire's error event instead of a
clean end (:func:`is_shutdown`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from proxyd.errors import ProxyError

SHUTDOWN = "proxyd is shutting down"


def is_shutdown(exc: BaseException) -> bool:
    """Whether a cancellation is the graceful stop cutting a request (not a client leaving)."""
    return isinstance(exc, asyncio.CancelledError) and bool(exc.args) and exc.args[0] == SHUTDOWN


def answer_shutdown(detail: str = "") -> ProxyError:
    """The error a request cut by the stop ends with (a 503, or a stream's error event).

    Answering it takes the cancellation back, so the task's remaining awaits and timeouts work.
    """
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return ProxyError(503, f"{SHUTDOWN}{detail}; send the request again", type="server_error", code="proxy_shutdown")


class Drain:
    """The requests being answered, for a graceful stop."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    async def settle(self, grace_s: float) -> bool:
        """Wait up to ``grace_s`` for every request in flight to end; True when none is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while self.tasks:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self.tasks), timeout=left)
        return True

    def cut(self) -> int:
        """Cancel every request in flight with :data:`SHUTDOWN`; returns how many there were."""
        for task in self.tasks:
            task.cancel(SHUTDOWN)
        return len(self.tasks)


DRAIN = web.AppKey("drain", Drain)
