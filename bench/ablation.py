"""The ablation table: what each stage of proxyd's request path costs, measured by switching it
off (:mod:`bench.ablate`) and comparing CPU with proxyd as users run it.

    .venv/bin/python -m bench.ablation            # about ten minutes; writes bench/ablation.md
    .venv/bin/python -m bench.ablation --quick    # a handful of requests: checks that it runs

One process of the bench-only build, pinned to the proxy's core, is measured in every setting
(as run, each stage off in turn, everything off), switched in place between measurements, in
rounds that take turns (each round reversing the order) so that the VM's drift falls on all of
them; the median round counts. "As run" is measured twice per round, the second time as the
control: its "saved" is the noise. The figures are proxyd's CPU per non-streaming request and
per 20-chunk stream, both at c=16, beside the plain passthrough's. A stage's cost is what
switching it off saves. Stages overlap (the observe middleware includes the access line), so
the savings do not add up to "everything off".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
from pathlib import Path

from bench import load
from bench.ablate import STAGES
from bench.run import (
    CHAT,
    LOAD_CORE,
    PROXY_CORE,
    ROOT,
    STREAM,
    Proc,
    check,
    cpu_s,
    free_port,
    pinned_run,
    proxyd_config,
    publish,
    start,
    stop,
)

AS_RUN, CONTROL, ALL_OFF, PASSTHROUGH = "as run", "as run, again", "everything off", "passthrough"


async def cpu_per(proc: Proc, raw: bytes, total: int) -> float:
    before = cpu_s(proc.pid)
    samples, _ = await load.run(proc.port, raw, concurrency=16, total=total)
    check(proc, samples)
    return (cpu_s(proc.pid) - before) / len(samples) * 1e6


async def ablation(rounds: int, requests: int, streams: int, workdir: Path) -> dict[str, tuple[float, float]]:
    """Per setting: (CPU µs per request, per stream), the medians of the rounds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(workdir)}
    mock_port = free_port()
    mock = start("mock", [sys.executable, "-m", "bench.mock", "--port", str(mock_port)], mock_port, "/v1/models",
                 env, workdir / "mock.log", LOAD_CORE)  # fmt: skip
    config, switches = str(proxyd_config(workdir, mock_port)), workdir / "switches"
    settings = {AS_RUN: "", CONTROL: "", **{name: name for name in STAGES}, ALL_OFF: "all"}
    procs: dict[str, Proc] = {}
    try:
        port = free_port()
        cmd = [sys.executable, "-m", "bench.ablate", "--switches", str(switches), "--", "--config", config,
               "--log-format", "json", "--port", str(port)]  # fmt: skip
        procs["proxyd"] = start("proxyd", cmd, port, "/readyz", env, workdir / "proxyd.log", PROXY_CORE)
        port = free_port()
        procs[PASSTHROUGH] = start(
            PASSTHROUGH, [sys.executable, "-m", "bench.passthrough", "--upstream", f"http://127.0.0.1:{mock_port}",
                          "--port", str(port)], port, "/v1/models", env, workdir / "passthrough.log", PROXY_CORE,
        )  # fmt: skip
        chat = load.http_request("POST", "/v1/chat/completions", CHAT)
        stream = load.http_request("POST", "/v1/chat/completions", STREAM)
        seen: dict[str, list[tuple[float, float]]] = {name: [] for name in [*settings, PASSTHROUGH]}
        for turn in range(rounds):
            for name in sorted(seen, reverse=turn % 2 == 1):
                proc = procs[PASSTHROUGH if name == PASSTHROUGH else "proxyd"]
                if name != PASSTHROUGH:
                    await switch(proc, switches, settings[name])
                seen[name].append((await cpu_per(proc, chat, requests), await cpu_per(proc, stream, streams)))
    finally:
        for proc in procs.values():
            stop(proc)
        stop(mock)
    median = statistics.median
    return {n: (median(r for r, _ in runs), median(s for _, s in runs)) for n, runs in seen.items()}


async def switch(proc: Proc, switches: Path, off: str) -> None:
    """Switch the build's stages: ``off`` names those to switch off (or ``all``)."""
    tell(proc, switches, off)
    await asyncio.sleep(0.05)


def tell(proc: Proc, switches: Path, off: str) -> None:
    switches.write_text(off)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGUSR2)


def render(
    results: dict[str, tuple[float, float]], *, quick: bool,
    units: tuple[str, str] = ("CPU per request (µs)", "CPU per stream (µs)"), noun: str = "the ablation",
) -> str:  # fmt: skip
    """The table: each setting's cost per request and per stream, and what switching it off saved."""
    base_req, base_stream = results[AS_RUN]
    lines = [
        f"| stage switched off | what that removes | {units[0]} | saved | {units[1]} | saved |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    what = {**STAGES, AS_RUN: "nothing: proxyd as users run it", ALL_OFF: "every stage below at once",
            CONTROL: "nothing: a second process as run, the control (its 'saved' is the noise)",
            PASSTHROUGH: "not proxyd: the bare aiohttp passthrough"}  # fmt: skip
    stages = sorted((n for n in results if n not in what or n in STAGES), key=lambda n: results[n][0])
    for name in [AS_RUN, *([CONTROL] if CONTROL in results else []), *stages, ALL_OFF, PASSTHROUGH]:
        req, stream = results[name]
        saved = _saved(base_req, req) if name != AS_RUN else "-"
        saved_s = _saved(base_stream, stream) if name != AS_RUN else "-"
        lines.append(f"| {name} | {what[name]} | {req:,.0f} | {saved} | {stream:,.0f} | {saved_s} |")
    if quick:
        lines += ["", f"Quick mode: a handful of requests each. These numbers only show that {noun} runs."]
    return "\n".join(lines) + "\n"


def _saved(base: float, value: float) -> str:
    # A quick run on a busy machine can measure no CPU at all for as run: no share to give then.
    share = f" ({(base - value) / base:.0%})" if base else ""
    return f"{base - value:,.0f}{share}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablation", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "ablation.md"))
    args = parser.parse_args(argv)
    rounds, requests, streams = (1, 20, 10) if args.quick else (int(args.rounds), 3000, 600)
    results = pinned_run("proxyd-ablation-", lambda tmp: ablation(rounds, requests, streams, tmp))
    publish(render(results, quick=args.quick), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
