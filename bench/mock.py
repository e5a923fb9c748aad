"""A fast mock LLM upstream for the benchmark: raw asyncio, HTTP/1.1 keep-alive, no framework.

- ``POST .../chat/completions``: a chat completion, or with ``"stream": true`` an SSE stream of
  ``x-bench-chunks`` chunks (default 20), ``x-bench-delay-ms`` apart (default 0). Each chunk
  carries ``"t"``, the ``CLOCK_MONOTONIC`` nanoseconds at which it was written, so the load
  driver on the same machine can tell how long the chunk spent in whatever sits between.
  With ``x-bench-tool: 1`` the stream is one tool call instead, its arguments spread over the
  chunks, as an agent's file write arrives.
- ``GET .../models``: a model list.

It is deliberately cheap so that the proxy under test, not the mock, sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

MODELS = json.dumps({"object": "list", "data": [{"id": "bench-model", "object": "model", "owned_by": "bench"}]})
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "bench-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
).encode()


def response(status: str, ctype: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def chunk_event(i: int, content: str, finish: str | None = None, tool: str | None = None) -> bytes:
    delta: dict[str, object] = {"content": content} if content else {}
    if tool is not None:  # a piece of a tool call's arguments (the first piece names the call)
        fn = {"name": "read_file", "arguments": tool} if i == 0 else {"arguments": tool}
        delta = {"tool_calls": [{"index": 0, **({"id": "call_bench", "type": "function"} if i == 0 else {}),
                                 "function": fn}]}  # fmt: skip
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "bench-model",
        "t": time.monotonic_ns(),
        "n": i,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    data = b"data: " + json.dumps(body).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


class Mock(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(head[0].split(" ")[1], headers, body)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        if path.endswith("/models"):
            self.transport.write(response("200 OK", "application/json", MODELS.encode()))
        elif path.endswith("/chat/completions") and (b'"stream": true' in body or b'"stream":true' in body):
            self.busy = True
            chunks = int(headers.get("x-bench-chunks", "20"))
            delay = float(headers.get("x-bench-delay-ms", "0")) / 1000
            tool = headers.get("x-bench-tool") == "1"
            asyncio.get_running_loop().create_task(self.stream(chunks, delay, tool))
        elif path.endswith("/chat/completions"):
            self.transport.write(response("200 OK", "application/json", COMPLETION))
        else:
            self.transport.write(response("404 Not Found", "application/json", b'{"error": {"message": "no"}}'))

    async def stream(self, chunks: int, delay: float, tool: bool = False) -> None:
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for i in range(chunks):
            if self.transport.is_closing():
                return
            if tool:
                piece = '{"path": "src/' if i == 0 else ("tok/" if i < chunks - 1 else 'tok.py"}')
                self.transport.write(chunk_event(i, "", tool=piece))
            else:
                self.transport.write(chunk_event(i, "tok "))
            if delay:
                await asyncio.sleep(delay)
        usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
        final = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
                            "model": "bench-model", "choices": [], "usage": usage})  # fmt: skip
        self.transport.write(chunk_event(chunks, "", "tool_calls" if tool else "stop"))
        tail = b"data: " + final.encode() + b"\n\ndata: [DONE]\n\n"
        self.transport.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
        self.busy = False
        if self.buf:
            self.data_received(b"")


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Mock, "127.0.0.1", port, backlog=4096)
    print(f"mock listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
