"""IdleDeadline: one timer per stream, only reads counted, and its cancellation told from others'."""

from __future__ import annotations

import asyncio

import pytest

from proxyd.idle import IdleDeadline


async def reads(deadline: IdleDeadline, waits: list[float]) -> str:
    """Reads that each wait ``waits[i]`` s, with 0.2 s of (not counted) writing after each."""
    try:
        for wait in waits:
            deadline.reading()
            await asyncio.sleep(wait)
            deadline.since = None
            await asyncio.sleep(0.2)
        return "done"
    except asyncio.CancelledError:
        if deadline.timed_out():
            return "timed out"
        raise
    finally:
        deadline.close()


@pytest.mark.parametrize(
    ("waits", "outcome"),
    [
        ([0.05, 0.05, 0.05, 0.05], "done"),  # 0.8 s of writing in all: writes never count
        ([0.05, 0.5], "timed out"),  # the second read waits past the limit
        ([0.5], "timed out"),  # the first one does
    ],
)
async def test_only_a_read_that_waits_too_long_times_out(waits: list[float], outcome: str) -> None:
    async def run() -> str:
        return await reads(IdleDeadline(0.25), waits)

    assert await asyncio.wait_for(run(), 5) == outcome


async def test_the_deadline_is_held_to_within_the_timer_s_precision() -> None:
    loop = asyncio.get_running_loop()

    async def run() -> float:
        deadline = IdleDeadline(0.3)
        await asyncio.sleep(0.2)  # the timer was set at the start: it fires before this read is due
        started = loop.time()
        assert await reads(deadline, [5]) == "timed out"
        return loop.time() - started

    waited = await asyncio.wait_for(run(), 5)
    assert 0.29 <= waited < 0.6


async def test_a_cancellation_from_elsewhere_is_not_a_timeout() -> None:
    task = asyncio.create_task(reads_with_fresh_deadline([5]))
    await asyncio.sleep(0.05)
    task.cancel()  # the client left
    with pytest.raises(asyncio.CancelledError):
        await task


async def reads_with_fresh_deadline(waits: list[float]) -> str:
    return await reads(IdleDeadline(1.0), waits)


def live_timers(loop: asyncio.AbstractEventLoop) -> int:
    return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


async def test_a_finished_stream_leaves_no_timer() -> None:
    loop = asyncio.get_running_loop()
    before = live_timers(loop)
    assert await reads_with_fresh_deadline([0.01]) == "done"
    assert live_timers(loop) == before
