"""What checking tool calls costs a relayed stream, measured in-process with ``timeit``.

The end-to-end rows of ``python -m bench`` show checked and unchecked streams side by side, but
on a VM whose CPU figures drift by a third between rounds a difference of microseconds per
chunk drowns. Here the exact work the relay adds is timed alone, many times over: a stream of
one tool call (the mock's bytes, its arguments spread over the chunks) through the wire's
:class:`StreamCheck` as every relayed stream is, with and without the tool-call observer, at
20 and 200 chunks. Each figure is all the checking a stream needs (once per stream: the offer,
the judge, the schema; per chunk: reading its event) divided by its chunks. A request without
tools costs the lookup that finds none.
"""

from __future__ import annotations

import argparse
import functools
import json
import timeit
from typing import Any

from bench.mock import chunk_event
from proxyd.config.parse import parse_config
from proxyd.observe import Observation
from proxyd.routing import Route
from proxyd.toolcalls.schemas import Schemas
from proxyd.toolcheck import tool_check
from proxyd.wires.chat import CHAT


def stream(chunks: int) -> list[bytes]:
    """The mock's tool-call stream as the relay reads it (chunked framing taken off)."""
    out = []
    for i in range(chunks):
        piece = '{"path": "src/' if i == 0 else ("tok/" if i < chunks - 1 else 'tok.py"}')
        out.append(chunk_event(i, "", tool=piece))
    out.append(chunk_event(chunks, "", "tool_calls"))
    return [c.split(b"\r\n", 1)[1][:-2] for c in out] + [b"data: [DONE]\n\n"]


def costs(tools: list[dict[str, Any]], number: int = 300) -> dict[str, float]:
    """µs: per chunk on streams of 20 and of 200 chunks, and the lookup of a request without tools."""
    config = parse_config({"providers": [{"name": "m", "base_url": "http://127.0.0.1:9/v1", "wire": "chat"}]},
                          env={}, read_file=lambda path: "")  # fmt: skip
    route, schemas = Route(config.providers[0], "bench-model", False, None), Schemas()
    body = {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": "x"}], "tools": tools}

    def relayed(chunks: list[bytes], checked: bool) -> None:
        check = CHAT.check()
        observer = None
        if checked:
            obs = Observation("bench", "POST", "chat.completions")
            found = tool_check(schemas, route, obs, CHAT.offered_tools(body), CHAT, body)
            assert found is not None
            observer = found.observer(CHAT, check)
        for chunk in chunks:
            check.observe(chunk)
        check.closing()
        if observer is not None:
            observer.close()
            assert obs.tools is not None and obs.tools.counts() == {"ok": 1}

    extra = {}
    for n in (20, 200):
        chunks = stream(n)
        relayed(chunks, True)  # the schema compiles once, as on a server's first call
        plain = min(timeit.repeat(functools.partial(relayed, chunks, False), number=number, repeat=5)) / number
        checked = min(timeit.repeat(functools.partial(relayed, chunks, True), number=number, repeat=5)) / number
        extra[n] = (checked - plain) * 1e6
    bare = {k: v for k, v in body.items() if k != "tools"}
    lookup = min(timeit.repeat(lambda: bare.get("tools"), number=100_000, repeat=3)) / 100_000 * 1e6
    # All the checking of a stream (its once-per-stream part included) over its chunks: an upper
    # bound of the cost per chunk that does not rest on splitting two noisy figures.
    return {"tools_per_chunk_20_us": extra[20] / 20, "tools_per_chunk_200_us": extra[200] / 200,
            "tools_none_us": lookup}  # fmt: skip


def main() -> None:
    """Print :func:`costs` as JSON: the benchmark runs this in a process of its own, whose heap
    and caches hold nothing of the load driver's."""
    from bench.run import TOOLS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=300)
    print(json.dumps(costs(TOOLS, parser.parse_args().number)))


if __name__ == "__main__":
    main()
