"""The ablation table in instructions: each stage's cost counted by valgrind's callgrind
instead of timed.

    .venv/bin/python -m bench.instructions            # about a quarter of an hour; writes bench/instructions.md
    .venv/bin/python -m bench.instructions --quick    # a handful of requests: checks that it runs

CPU time on this VM drifts by a fifth between processes and by tens of percent within a
minute, more than most stages cost (:mod:`bench.ablation`). The instructions a process runs
for the same requests do not drift: callgrind counts them exactly, whatever else the machine
does. They are not time (a cache miss or the kernel's share of a syscall costs no
instruction here), but for pure Python work they are its size, and a cut that removes
instructions removes time.

The bench-only build (:mod:`bench.ablate`) and the passthrough run under callgrind, each
marking a moment with ``time.tzset()`` on SIGUSR2, where callgrind dumps the count since the
last dump (``--dump-before=tzset``). A measurement is: mark, send the requests, mark; the
second dump holds their instructions. Each setting gets warm-up requests first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import load
from bench.ablate import STAGES
from bench.ablation import ALL_OFF, AS_RUN, PASSTHROUGH, render
from bench.run import (
    CHAT,
    LOAD_CORE,
    PROXY_CORE,
    ROOT,
    STREAM,
    Proc,
    free_port,
    pinned_run,
    proxyd_config,
    publish,
    start,
    stop,
)
from bench.run import check as check_answers

# The passthrough as bench.run starts it, with the mark on SIGUSR2.
_MARKED_PASSTHROUGH = (
    "import runpy, signal, sys, time; signal.signal(signal.SIGUSR2, lambda *_: time.tzset()); "
    "sys.argv[0] = 'bench.passthrough'; runpy.run_module('bench.passthrough', run_name='__main__')"
)
_TOTALS = re.compile(rb"^totals: (\d+)", re.MULTILINE)


@dataclass
class Counted:
    """A process under callgrind, and the dumps its marks have made so far."""

    proc: Proc
    out: Path  # callgrind's output file; each mark's dump is out.N
    marks: int = 0

    async def mark(self) -> int:
        """Dump the count so far; returns the dump's number, once it is written."""
        assert self.proc.pid is not None
        self.marks += 1
        os.kill(self.proc.pid, signal.SIGUSR2)
        for _ in range(600):
            if self.count(self.marks) is not None:
                return self.marks
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.proc.name}: callgrind wrote no dump {self.out}.{self.marks}")

    def count(self, dump: int) -> int | None:
        """The instructions in dump ``dump``, once it is written whole."""
        path = Path(f"{self.out}.{dump}")
        found = _TOTALS.search(path.read_bytes()) if path.exists() else None
        return int(found.group(1)) if found else None


async def per_request(counted: Counted, raw: bytes, warm: int, total: int) -> float:
    await drive(counted.proc, raw, warm)
    await counted.mark()
    await drive(counted.proc, raw, total)
    instructions = counted.count(await counted.mark())
    assert instructions is not None  # mark() waits for the dump
    return instructions / total


async def drive(proc: Proc, raw: bytes, total: int) -> None:
    samples, _ = await load.run(proc.port, raw, concurrency=4, total=total)
    check_answers(proc, samples)


def under_callgrind(out: Path, cmd: list[str]) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--dump-before=tzset", f"--callgrind-out-file={out}", *cmd]


async def instructions(requests: int, streams: int, stages: list[str], workdir: Path) -> dict[str, tuple[float, float]]:
    """Per setting: (instructions per request, per stream)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(workdir)}
    mock_port = free_port()
    mock = start("mock", [sys.executable, "-m", "bench.mock", "--port", str(mock_port)], mock_port, "/v1/models",
                 env, workdir / "mock.log", LOAD_CORE)  # fmt: skip
    config, switches = str(proxyd_config(workdir, mock_port)), workdir / "switches"
    ports = free_port(), free_port()
    serve = [sys.executable, "-m", "bench.ablate", "--switches", str(switches), "--", "--config", config,
             "--log-format", "json", "--port", str(ports[0])]  # fmt: skip
    passthrough = [sys.executable, "-c", _MARKED_PASSTHROUGH, "--upstream", f"http://127.0.0.1:{mock_port}",
                   "--port", str(ports[1])]  # fmt: skip
    counted: list[Counted] = []
    try:
        for name, cmd, port, ready in (("proxyd", serve, ports[0], "/readyz"),
                                       (PASSTHROUGH, passthrough, ports[1], "/v1/models")):  # fmt: skip
            out = workdir / f"{name}.callgrind"
            proc = start(name, under_callgrind(out, cmd), port, ready, env, workdir / f"{name}.log", PROXY_CORE, 300)
            counted.append(Counted(proc, out))
        return await _settings(counted[0], counted[1], switches, stages, requests, streams)
    finally:
        for c in counted:
            stop(c.proc)
        stop(mock)


async def _settings(
    proxyd: Counted, passthrough: Counted, switches: Path, stages: list[str], requests: int, streams: int
) -> dict[str, tuple[float, float]]:
    chat = load.http_request("POST", "/v1/chat/completions", CHAT)
    stream = load.http_request("POST", "/v1/chat/completions", STREAM)
    warm = max(requests // 10, 2)
    results: dict[str, tuple[float, float]] = {}
    for name, off in [(AS_RUN, ""), *((s, s) for s in stages), (ALL_OFF, "all")]:
        tell(switches, off)
        await proxyd.mark()  # the build reads the switches on the same signal
        results[name] = (await per_request(proxyd, chat, warm, requests),
                         await per_request(proxyd, stream, warm, streams))  # fmt: skip
    results[PASSTHROUGH] = (await per_request(passthrough, chat, warm, requests),
                            await per_request(passthrough, stream, warm, streams))  # fmt: skip
    return results


def tell(switches: Path, off: str) -> None:
    switches.write_text(off)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "instructions.md"))
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    requests, streams, stages = (6, 3, ["access_line"]) if args.quick else (300, 100, list(STAGES))
    results = pinned_run("proxyd-instructions-", lambda tmp: instructions(requests, streams, stages, tmp))
    publish(render(results, quick=args.quick, units=("instructions per request", "per stream"), noun="the count"),
            args.out)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
