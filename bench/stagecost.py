"""Each stage of proxyd's request path timed alone, in-process with ``timeit``: the precise
counterpart of the ablation table, whose end-to-end figures carry this VM's drift.

    .venv/bin/python -m bench.stagecost

Each stage runs with the inputs the benchmark's requests give it (the bench config, its chat
body, the mock's 20-chunk stream) and the logging proxyd configures (JSON lines, to /dev/null).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import timeit
from collections.abc import Callable

from bench.mock import chunk_event
from bench.run import CHAT, agent_body
from proxyd import jsonbody, log
from proxyd.config.parse import parse_config
from proxyd.headers import upstream_request_headers
from proxyd.log import AccessLine
from proxyd.metrics import Metrics
from proxyd.observe import Observation, Observer
from proxyd.runtime import Runtime
from proxyd.wires.chat import CHAT as CHAT_WIRE
from proxyd.wires.registry import WIRES
from proxyd.wires.translator import StreamTranslator
from proxyd.wires.turn import Turn

CLIENT_HEADERS = [
    ("Host", "127.0.0.1:8787"), ("Content-Type", "application/json"), ("Content-Length", "70"),
    ("Authorization", "Bearer proxyd"), ("User-Agent", "OpenAI/Python 1.99.0"), ("Accept", "*/*"),
]  # fmt: skip
USAGE = b'data: {"usage": {"prompt_tokens": 5}}\n\ndata: [DONE]\n\n'


def stream_chunks() -> list[bytes]:
    chunks = [chunk_event(i, "tok ") for i in range(20)] + [chunk_event(20, "", "stop")]
    return [c.split(b"\r\n", 1)[1][:-2] for c in chunks] + [
        b'data: {"usage": {"prompt_tokens": 5}}\n\ndata: [DONE]\n\n'
    ]


def translated(client: str, chunks: list[bytes]) -> Callable[[], None]:
    """The mock's chat stream translated for a client of another wire, start to finish."""
    body = {"model": "bench-model", "stream": True, "input": "hi", "messages": [{"role": "user", "content": "hi"}],
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}  # fmt: skip

    def run() -> None:
        turn = Turn(body, "resp_bench", "bench-model", 1, {}, False)
        translator = StreamTranslator(WIRES["chat"].decoder(turn), WIRES[client].encoder(turn))
        translator.start()
        for chunk in chunks:
            translator.feed(chunk)
        translator.finish()

    return run


def timed(stage: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(stage, number=number, repeat=5)) / number * 1e6


async def costs(access_line: AccessLine | None, number: int = 20_000) -> list[tuple[str, str, float]]:
    config = parse_config({"providers": [{"name": "mock", "base_url": "http://127.0.0.1:9/v1", "api_key": "bench-key",
                                          "wire": "chat", "models": [{"id": "bench-model", "alias": "bench-alias"}]}]},
                          env={}, read_file=lambda path: "")  # fmt: skip
    runtime, metrics = Runtime(config), Metrics()
    observer, chained = Observer(metrics, runtime, access_line), Observer(metrics, runtime)
    provider, router = config.providers[0], runtime.current.router

    def observed() -> Observation:
        obs = Observation("0123456789abcdef01234567", "POST", "chat.completions")
        obs.provider, obs.model, obs.status, obs.wire = "mock", "bench-model", 200, "chat"
        obs.upstream_status, obs.ttfb = 200, 0.001
        return obs

    obs = observed()
    chunks, big = stream_chunks(), agent_body()

    def stream_check() -> None:
        check = CHAT_WIRE.check()
        for chunk in chunks:
            check.observe(chunk)
        check.closing()
        check.usage()

    def first_token() -> None:
        seen = observed()
        seen.streaming()
        for chunk in chunks:
            seen.relayed(chunk)

    def metric_updates() -> None:
        m = metrics
        m.child(m.requests, "mock", "chat.completions", "200", "default").inc()
        m.child(m.duration, "mock", "chat.completions").observe(0.002)
        m.child(m.ttfb, "mock").observe(0.001)
        m.child(m.inflight, "mock").inc()
        m.child(m.inflight, "mock").dec()

    entry = (1.0, "chat.completions", "chat", None, "mock", "bench-model", 200, 0.001, 0.002, 5, 1, None, 0)
    per_request = [
        ("the access line, written straight as JSON (as proxyd serve does)", lambda: observer._log(obs, 0.002, None)),
        ("the access line through structlog's chain (as before)", lambda: chained._log(obs, 0.002, None)),
        (
            "Observer.finish, all of it (metrics, access line, health, traffic list)",
            lambda: observer.finish(observed()),
        ),
        ("the metrics updates of a request", metric_updates),
        ("real traffic's effect on provider health", lambda: observer._update_health(obs, None)),
        ("the traffic list's entry", lambda: observer.recent.append(entry)),
        ("an Observation made", observed),
        ("routing", lambda: router.route("bench-model", None)),
        ("the JSON parse of the bench's chat body", lambda: jsonbody.parse_object(CHAT)),
        ("the JSON parse of a 100 KB agent body", lambda: jsonbody.parse_object(big)),
        ("the upstream request's headers", lambda: upstream_request_headers(CLIENT_HEADERS, provider)),
    ]
    rows = [("per request", name, timed(stage, number)) for name, stage in per_request]
    streams = max(number // 10, 1)
    rows += [("per stream", "the chat StreamCheck over a 20-chunk stream", timed(stream_check, streams)),
             ("per stream", "the first-token search over a 20-chunk stream", timed(first_token, streams)),
             ("per stream", "a 20-chunk chat stream translated for a Responses client",
              timed(translated("responses", chunks), streams)),
             ("per stream", "a 20-chunk chat stream translated for an Anthropic client",
              timed(translated("anthropic", chunks), streams)),
             ("per stream", "a 20-chunk chat stream translated for a Gemini client",
              timed(translated("gemini", chunks), streams))]  # fmt: skip
    await runtime.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stagecost", description=__doc__)
    parser.add_argument("--number", type=int, default=20_000, help="calls per timing (the suite's smoke run: a few)")
    number = parser.parse_args().number
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the access lines go nowhere, as to a fast journal
    rows = asyncio.run(costs(log.configure("info", "json").access_line, number))
    print("| per | stage, timed alone | µs |\n| --- | --- | ---: |")
    for per, stage, micros in rows:
        print(f"| {per} | {stage} | {micros:,.1f} |")


if __name__ == "__main__":
    main()
