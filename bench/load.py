"""The benchmark's load driver: raw asyncio HTTP/1.1 keep-alive connections, monotonic clocks.

Timings use ``time.monotonic_ns`` (``CLOCK_MONOTONIC``), never wall-clock time, which jumps on
these VMs. The mock stamps each stream chunk with the same clock, so a chunk's delay is its
arrival time here minus its send time there.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

_T_RE = re.compile(rb'"t": (\d+)')
# Sent with every request: LiteLLM's master key (bench.litellm); the other targets ignore it.
CLIENT_KEY = "sk-proxyd-bench-8c6f0a3e5b2d4f71a9e0c3b6d8f2a4e1"
_CONTENT_MARKS = (b'"content": "tok', b'"content":"tok', b"output_text.delta", b"text_delta")  # spaced or compact


@dataclass
class Sample:
    status: int = 0
    latency_ns: int = 0
    ttfb_ns: int | None = None  # first byte of the body
    first_content_ns: int | None = None  # first generated text
    chunk_delays_ns: list[int] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None  # why the answer was not read: a malformed answer, a cut connection


class _Conn(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time (Content-Length or chunked)."""

    def __init__(self, keep_body: bool) -> None:
        self.transport: asyncio.Transport | None = None
        self.keep_body = keep_body
        self.done: asyncio.Future[Sample] | None = None
        self.buf = b""
        self.crlf = 0  # line-end bytes of the chunked framing still to skip
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.first.done():
            self.first.set_result(None)
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed mid-response"))
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, raw: bytes) -> asyncio.Future[Sample]:
        assert self.transport is not None
        self.sample, self.start, self.head = Sample(), time.monotonic_ns(), True
        self.chunked, self.left, self.events = False, 0, b""
        self.done = asyncio.get_running_loop().create_future()
        self.first = asyncio.get_running_loop().create_future()  # the first body byte, or the end
        self.transport.write(raw)
        return self.done

    def data_received(self, data: bytes) -> None:
        try:
            self._read(data)
        except ValueError as exc:  # a status line, a length or a chunk size that is not one
            self._fail(f"malformed answer: {exc}")

    def _fail(self, why: str) -> None:
        if self.done is not None and not self.done.done():
            self.sample.error = why
            self.done.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()  # nothing more can be read on it

    def _read(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.buf += data
        self._skip_crlf()
        if self.head:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end].lower(), self.buf[end + 4 :]
            self.sample.status = int(head[9:12])
            self.head = False
            self.chunked = b"transfer-encoding: chunked" in head
            m = re.search(rb"content-length: (\d+)", head)
            self.left = int(m.group(1)) if m else 0
        if self.chunked:
            self._dechunk(now)
        elif len(self.buf) >= self.left:
            body, self.buf = self.buf[: self.left], self.buf[self.left :]
            self._body(body, now)
            self._finish(now)

    def _skip_crlf(self) -> None:
        skip = min(self.crlf, len(self.buf))
        self.buf, self.crlf = self.buf[skip:], self.crlf - skip

    def _dechunk(self, now: int) -> None:
        while True:
            self._skip_crlf()
            if self.crlf:
                return
            if self.left == 0:
                line_end = self.buf.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(self.buf[:line_end].split(b";")[0], 16)
                self.buf = self.buf[line_end + 2 :]
                if size == 0:
                    self.crlf = 2  # the empty trailer's line end, skipped as it arrives
                    self._finish(now)
                    return
                self.left = size
            take = min(self.left, len(self.buf))
            if take == 0:
                return
            self._body(self.buf[:take], now)
            self.buf, self.left = self.buf[take:], self.left - take
            if self.left == 0:
                self.crlf = 2

    def _body(self, data: bytes, now: int) -> None:
        if not data:
            return
        s = self.sample
        if s.ttfb_ns is None:
            s.ttfb_ns = now - self.start
            self.first.set_result(None)
        if self.keep_body:
            s.body += data
        self.events += data
        while (cut := self.events.find(b"\n\n")) >= 0:
            event, self.events = self.events[:cut], self.events[cut + 2 :]
            if s.first_content_ns is None and any(mark in event for mark in _CONTENT_MARKS):
                s.first_content_ns = now - self.start
            m = _T_RE.search(event)
            if m:
                s.chunk_delays_ns.append(now - int(m.group(1)))

    def _finish(self, now: int) -> None:
        if not self.first.done():
            self.first.set_result(None)
        self.sample.latency_ns = now - self.start
        if self.done is not None and not self.done.done():
            self.done.set_result(self.sample)


def http_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
             f"Authorization: Bearer {CLIENT_KEY}"]  # fmt: skip
    if body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(
    port: int, raw: bytes, *, concurrency: int, total: int, keep_body: bool = False
) -> tuple[list[Sample], float]:
    """Send ``raw`` ``total`` times over ``concurrency`` connections; the samples and the seconds taken."""
    loop = asyncio.get_running_loop()

    async def connect() -> _Conn:
        return (await loop.create_connection(lambda: _Conn(keep_body), "127.0.0.1", port))[1]

    conns = [await connect() for _ in range(concurrency)]
    samples: list[Sample] = []
    left = [total]

    async def worker(conn: _Conn) -> None:
        while left[0] > 0:
            left[0] -= 1
            try:
                samples.append(await conn.send(raw))
            except ConnectionError as exc:  # a failed sample, not a failed run: go on, on a new connection
                samples.append(Sample(error=str(exc)))
                conn = await connect()
                conns.append(conn)

    started = time.monotonic_ns()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
    return samples, (time.monotonic_ns() - started) / 1e9


async def hold(port: int, raw: bytes, count: int) -> tuple[list[_Conn], list[asyncio.Future[Sample]]]:
    """Open ``count`` streams at once and return when each has sent its first chunk."""
    loop = asyncio.get_running_loop()
    conns: list[_Conn] = []
    for _ in range(count):
        conns.append((await loop.create_connection(lambda: _Conn(False), "127.0.0.1", port))[1])
    futures = [c.send(raw) for c in conns]
    await asyncio.gather(*(c.first for c in conns))
    return conns, futures
