"""The idle deadline of a relayed body: ``timeouts.idle_s`` without a byte from the upstream.

Only time spent waiting on the upstream counts: a slow client, whose writes hold the relay
back, is not an idle upstream. ``asyncio.timeout`` did this by moving its deadline twice per
chunk, which made and dropped a timer each time; here one timer per stream looks, when it
fires, at how long the read under way has waited, and sets itself again for that read's
deadline when it is not yet due.
"""

from __future__ import annotations

import asyncio


class IdleDeadline:
    """Cancels the task when one read has waited ``idle_s``; :meth:`timed_out` then tells that
    cancellation from the client's or the graceful stop's, as ``asyncio.timeout`` does."""

    __slots__ = ("_cancelling", "_handle", "_idle", "_loop", "_task", "expired", "since")

    def __init__(self, idle_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # a relay runs in its request's task
        self._task = task
        self._cancelling = task.cancelling()
        self._idle = idle_s
        self.since: float | None = None  # when the read under way began; None between reads
        self.expired = False
        self._handle = self._loop.call_later(idle_s, self._check)

    def reading(self) -> None:
        """A read from the upstream begins."""
        self.since = self._loop.time()

    def _check(self) -> None:
        since, now = self.since, self._loop.time()
        if since is not None and now - since >= self._idle:
            self.expired = True
            self._task.cancel()
            return
        self._handle = self._loop.call_at((now if since is None else since) + self._idle, self._check)

    def timed_out(self) -> bool:
        """After a ``CancelledError``: was it this deadline's? If so it is taken back."""
        return self.expired and self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        self._handle.cancel()
