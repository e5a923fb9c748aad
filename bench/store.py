"""The response store's latency: put and get on the shared Redis store against the SQLite file.

    .venv/bin/python -m bench.store            # about a minute; writes bench/store.md
    .venv/bin/python -m bench.store --quick    # a handful of calls: checks that it runs

Each engine gets the same records, through proxyd's own store classes as a request uses them:
a chat turn (2 KB) and an agent's turn (100 KB: a long input with its tools' output). One at a
time, each call is timed alone (p50, p99); then 32 at once, as under load (calls a second).
Redis is a local redis-server (started here on a free loopback port, stopped by its PID, no
persistence); across a network each call adds that network's round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import Proc, free_port, publish, stop
from proxyd.config.settings import Store
from proxyd.store.base import ResponseStore
from proxyd.store.shared import RedisStore
from proxyd.store.sqlite import SQLiteStore

SIZES = {"chat turn, 2 KB": 2_000, "agent turn, 100 KB": 100_000}
CONCURRENCY = 32


@dataclass(frozen=True)
class Row:
    engine: str
    size: str
    put_p50: float
    put_p99: float
    get_p50: float
    get_p99: float
    puts_per_s: float
    gets_per_s: float


def record(i: int, size: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    text = "word " * (size // 5)
    return [{"type": "message", "role": "user", "content": text}], {"id": f"resp_{i:08d}", "output": []}


async def timed(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1e6)
    return out


async def rate(calls: list[Callable[[], Awaitable[Any]]]) -> float:
    start = time.perf_counter()
    for at in range(0, len(calls), CONCURRENCY):
        await asyncio.gather(*(call() for call in calls[at : at + CONCURRENCY]))
    return len(calls) / (time.perf_counter() - start)


async def measure(engine: str, store: ResponseStore, size_name: str, size: int, count: int) -> Row:
    records = [record(i, size) for i in range(count * 2)]
    first, second = records[:count], records[count:]
    puts = await timed([lambda r=r: store.put(*r) for r in first])  # type: ignore[misc]
    gets = await timed([lambda r=r: store.get(r[1]["id"]) for r in first])  # type: ignore[misc]
    put_rate = await rate([lambda r=r: store.put(*r) for r in second])  # type: ignore[misc]
    get_rate = await rate([lambda r=r: store.get(r[1]["id"]) for r in second])  # type: ignore[misc]
    return Row(engine, size_name, *quantiles(puts), *quantiles(gets), put_rate, get_rate)


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def redis_server(directory: Path) -> Proc:
    """A redis-server on a free loopback port, without persistence; stopped with :func:`stop`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
            "--appendonly", "no"]  # fmt: skip
    redis = Proc("redis-server", port, subprocess.Popen(args, stdout=subprocess.DEVNULL))
    deadline = time.monotonic() + 10
    while not listening(port):
        if time.monotonic() > deadline or redis.popen is None or redis.popen.poll() is not None:
            stop(redis)
            raise SystemExit("redis-server did not start")
        time.sleep(0.02)
    return redis


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def run(count: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        redis = redis_server(Path(tmp))
        try:
            for size_name, size in SIZES.items():
                config = Store(max_mb=4096)
                for engine, store in (
                    ("SQLite (file)", SQLiteStore(Path(tmp) / f"{size}.sqlite3", config)),
                    ("Redis (loopback)", RedisStore(f"redis://127.0.0.1:{redis.port}/0", config)),
                ):
                    await store.open()
                    try:
                        rows.append(await measure(engine, store, size_name, size, count))
                    finally:
                        await store.close()
        finally:
            stop(redis)
    return rows


def table(rows: list[Row], count: int) -> str:
    lines = [
        f"Calls of proxyd's store classes: {count} one at a time (each timed), then {count} more "
        f"{CONCURRENCY} at a time (calls a second).",
        "",
        "| engine | record | put p50 | put p99 | get p50 | get p99 | puts/s at 32 | gets/s at 32 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.engine} | {r.size} | {r.put_p50:,.0f} µs | {r.put_p99:,.0f} µs | {r.get_p50:,.0f} µs | "
            f"{r.get_p99:,.0f} µs | {r.puts_per_s:,.0f} | {r.gets_per_s:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a handful of calls: checks that it runs")
    parser.add_argument("--out", default=str(Path(__file__).with_name("store.md")))
    args = parser.parse_args()
    count = 20 if args.quick else 2000
    publish("# The response store's latency\n\n" + table(asyncio.run(run(count)), count), args.out)


if __name__ == "__main__":
    main()
