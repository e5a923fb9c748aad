"""Run the benchmark: direct, the plain aiohttp passthrough, proxyd (and optionally LiteLLM),
one after another against the same mock upstream, and print ratios as a Markdown table.

    .venv/bin/python -m bench                 # about a minute; writes bench/results.md
    .venv/bin/python -m bench --quick         # a few requests each: checks that it all runs
    .venv/bin/python -m bench --litellm       # also LiteLLM's proxy, installed into bench/.litellm

The load driver and the mock share core 1; the proxy under test gets core 0 to itself. proxyd
runs as a user runs it: metrics on, one JSON access line per request (to a file, as journald
would take it), health probes and the response store on. Every process started is stopped by
its PID.

Throughput at c=64, then at c=256, is measured last, in rounds that take turns between the proxies (all of
them started and idle meanwhile), and the median round counts: these VMs drift by tens of
percent within a minute, and turns spread the drift over everyone. "proxyd x2" is
``serve --workers 2`` left unpinned: two workers and the load driver share the two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import load
from bench.report import render

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
PROXY_CORE, LOAD_CORE = 0, 1
CHAT = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
STREAM = json.dumps({"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
RESPONSES = json.dumps({"model": "bench-model", "stream": True, "input": "hi"}).encode()
MESSAGES = json.dumps(
    {"model": "bench-model", "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
).encode()


# An agent's tool list (five tools with schemas), and the same stream request with and without it.
TOOLS = [
    {"type": "function", "function": {"name": name, "description": f"{name} in the workspace", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"},
                                         "limit": {"type": "integer"}},
        "required": ["path"], "additionalProperties": False}}}
    for name in ("read_file", "write_file", "list_dir", "search", "exec_command")
]  # fmt: skip


def agent_body() -> bytes:
    """An agent's request of about 100 KB, not streamed: 25 tools with long descriptions and
    schemas, and a 40-message history (what Codex or Claude Code send on a long task)."""

    def tool(n: int) -> dict[str, object]:
        props = {f"arg_{k}": {"type": "string", "description": f"argument {k} of tool {n}: " + "details " * 12}
                 for k in range(6)}  # fmt: skip
        return {"type": "function", "function": {"name": f"tool_{n}", "description": "does a thing. " * 60,
                "parameters": {"type": "object", "properties": props, "required": ["arg_0"]}}}  # fmt: skip

    messages = [{"role": ("user", "assistant")[i % 2], "content": f"turn {i}: " + "some words of the work " * 60}
                for i in range(40)]  # fmt: skip
    return json.dumps({"model": "bench-model", "messages": messages, "tools": [tool(n) for n in range(25)]}).encode()


def tool_stream(model: str, tools: bool) -> bytes:
    """Without tools, the same bytes under a key nobody reads: only the checking differs."""
    body: dict[str, object] = {"model": model, "stream": True, "messages": [{"role": "user", "content": "read it"}]}
    return json.dumps({**body, "tools" if tools else "x_unread": TOOLS}).encode()


@dataclass(frozen=True)
class Sizes:
    c1: int
    many: int
    streams: int
    slow: int  # streams held open at once
    timed_streams: int


FULL = Sizes(c1=1000, many=8000, streams=2000, slow=1000, timed_streams=40)
QUICK = Sizes(c1=20, many=100, streams=20, slow=10, timed_streams=3)
ROUNDS = 3


@dataclass
class Proc:
    name: str
    port: int
    popen: subprocess.Popen[bytes] | None = None
    startup_s: float | None = None
    failed: int = 0  # answers that were not a 200 (LiteLLM's are counted, every other target's fail the run)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int | None) -> Callable[[], None] | None:
    """Pin a child to ``core`` (with two cores or more), so runs compare; ``None``: every core
    (the driver pins itself, and children would inherit its one core). The machine's count,
    not this process's affinity, which the driver has already narrowed."""
    every = set(range(os.cpu_count() or 1))
    if len(every) < 2:
        return None
    cores = {core} if core is not None else every
    return lambda: os.sched_setaffinity(0, cores)


def start(
    name: str, cmd: list[str], port: int, ready: str, env: dict[str, str], log: Path, core: int | None,
    patience_s: float = 60,
) -> Proc:  # fmt: skip
    began = time.monotonic()
    with log.open("wb") as err:
        popen = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=pinned(core))
    deadline = began + patience_s
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=1) as resp:
                if resp.status == 200:
                    return Proc(name, port, popen, time.monotonic() - began)
        except OSError:
            time.sleep(0.01)
    stop(Proc(name, port, popen))
    raise RuntimeError(f"{name} was not ready within 60 s; see {log}")


def stop(proc: Proc) -> None:
    if proc.popen is not None and proc.popen.poll() is None:
        proc.popen.terminate()
        try:
            proc.popen.wait(10)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()


def memory_mb(pid: int | None) -> tuple[float, float]:
    """(RSS, peak RSS) in MB, from /proc."""
    if pid is None:
        return 0.0, 0.0
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_s(pid: int | None) -> float:
    """CPU seconds of ``pid`` and its children (the workers of ``--workers``)."""
    if pid is None:
        return 0.0
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK") + sum(cpu_s(int(c)) for c in children)


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6 if ordered else float("nan")


async def measure(proc: Proc, sizes: Sizes, translate: bool) -> dict[str, float]:
    out: dict[str, float] = {"startup_s": proc.startup_s or 0.0}
    out["idle_rss_mb"] = memory_mb(proc.pid)[0]
    chat = load.http_request("POST", "/v1/chat/completions", CHAT)
    samples, _ = await load.run(proc.port, chat, concurrency=1, total=sizes.c1)
    check(proc, samples)
    out["c1_p50_ms"], out["c1_p99_ms"] = (
        pct([s.latency_ns for s in samples], 0.5),
        pct([s.latency_ns for s in samples], 0.99),
    )
    big = load.http_request("POST", "/v1/chat/completions", agent_body())
    samples, _ = await load.run(proc.port, big, concurrency=1, total=max(sizes.c1 // 2, 1))
    check(proc, samples)
    out["big_c1_p50_ms"] = pct([s.latency_ns for s in samples], 0.5)
    await load_at(proc, chat, 16, sizes.many, out)
    await measure_streams(proc, sizes, out, "stream", "/v1/chat/completions", STREAM)
    if translate:  # Responses and Anthropic streams from a chat-only upstream
        await measure_streams(proc, sizes, out, "translated", "/v1/responses", RESPONSES)
        await measure_streams(proc, sizes, out, "anthropic", "/v1/messages", MESSAGES)
    if proc.name == "proxyd":
        await group_vs_alias(proc, sizes, out)
        await tool_checking(proc, sizes, out)
    out["peak_rss_mb"] = memory_mb(proc.pid)[1]
    out["failed"] = float(proc.failed)
    slow = load.http_request(
        "POST", "/v1/chat/completions", STREAM, {"x-bench-chunks": "3", "x-bench-delay-ms": "3000"}
    )
    conns, futures = await load.hold(proc.port, slow, sizes.slow)
    out["open_streams_rss_mb"] = memory_mb(proc.pid)[0]
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    await asyncio.gather(*futures, return_exceptions=True)
    return out


async def group_vs_alias(proc: Proc, sizes: Sizes, out: dict[str, float]) -> None:
    """A model group of three whose first target answers, against a plain alias to the same
    model and the model id itself (a control): CPU per request at c=16, in rounds that take
    turns going first (the median counts)."""
    # "model", the model id itself, does strictly less than the alias: its spread is the noise.
    seen: dict[str, list[float]] = {"alias": [], "group": [], "model": []}
    for turn in range(ROUNDS * 2):
        for name in sorted(seen, reverse=turn % 2 == 1):  # each goes first as often: no place bias
            body = json.dumps({"model": f"bench-{name}", "messages": [{"role": "user", "content": "hi"}]}).encode()
            one: dict[str, float] = {}
            await load_at(
                proc, load.http_request("POST", "/v1/chat/completions", body), 16, max(sizes.many // 4, 1), one
            )
            seen[name].append(one["c16_cpu_us"])
    for name, runs in seen.items():
        out[f"{name}_cpu_us"] = statistics.median(runs)


async def tool_checking(proc: Proc, sizes: Sizes, out: dict[str, float]) -> None:
    """A 20-chunk stream of one tool call: the request without tools (the same bytes under a key
    nobody reads: nothing to check), with an agent's five tools (every call checked), and with
    repair on (the answer goes through the pivot, its call held to the end). CPU per stream at
    c=16 in rounds that take turns (the median counts), and the chunk delay on paced streams.
    The cost per chunk, too small for this VM's drift, is :mod:`bench.toolcost`'s to time."""
    bodies = {"off": tool_stream("bench-model", False), "checked": tool_stream("bench-model", True),
              "repair": tool_stream("mockfix/bench-model", True)}  # fmt: skip
    seen: dict[str, list[float]] = {name: [] for name in bodies}
    for turn in range(ROUNDS * 2):
        for name in sorted(bodies, reverse=turn % 2 == 1):
            raw = load.http_request("POST", "/v1/chat/completions", bodies[name], {"x-bench-tool": "1"})
            before = cpu_s(proc.pid)
            samples, _ = await load.run(proc.port, raw, concurrency=16, total=max(sizes.streams // 4, 1))
            check(proc, samples)
            seen[name].append((cpu_s(proc.pid) - before) / len(samples) * 1e6 if samples else float("nan"))
    delays: dict[str, list[float]] = {name: [] for name in bodies}
    for turn in range(2):  # paced streams, taking turns too
        for name in sorted(bodies, reverse=turn % 2 == 1):
            head = {"x-bench-tool": "1", "x-bench-delay-ms": "5"}
            paced = load.http_request("POST", "/v1/chat/completions", bodies[name], head)
            samples, _ = await load.run(proc.port, paced, concurrency=1, total=max(sizes.timed_streams // 2, 1))
            check(proc, samples)
            delays[name] += [d / 1e6 for s in samples for d in s.chunk_delays_ns]
    for name in bodies:
        out[f"tools_{name}_cpu_us"] = statistics.median(seen[name])
        out[f"tools_{name}_chunk_delay_ms"] = statistics.fmean(delays[name]) if delays[name] else float("nan")
    timed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.toolcost", "--number", "300" if sizes is FULL else "5",
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    printed, _ = await asyncio.wait_for(timed.communicate(), 600)
    if timed.returncode != 0:
        raise RuntimeError(f"bench.toolcost failed with exit code {timed.returncode}")
    out.update(json.loads(printed))


async def load_at(proc: Proc, raw: bytes, c: int, total: int, out: dict[str, float]) -> None:
    before = cpu_s(proc.pid)
    samples, took = await load.run(proc.port, raw, concurrency=c, total=total)
    check(proc, samples)
    out[f"c{c}_rps"] = len(samples) / took
    out[f"c{c}_p50_ms"], out[f"c{c}_p99_ms"] = (pct([s.latency_ns for s in samples], q) for q in (0.5, 0.99))
    out[f"c{c}_cpu_us"] = (cpu_s(proc.pid) - before) / len(samples) * 1e6 if samples else float("nan")


async def rounds_at(c: int, procs: list[Proc], sizes: Sizes, results: dict[str, dict[str, float]]) -> None:
    """Non-streaming requests at concurrency ``c`` in turns (see the module's doc); each figure
    is the median of the rounds."""
    chat = load.http_request("POST", "/v1/chat/completions", CHAT)
    seen: dict[str, list[dict[str, float]]] = {p.name: [] for p in procs}
    for _ in range(ROUNDS):
        for proc in procs:
            one: dict[str, float] = {}
            await load_at(proc, chat, c, max(sizes.many // ROUNDS, 1), one)
            seen[proc.name].append(one)
    for name, runs in seen.items():
        for key in runs[0]:
            results.setdefault(name, {})[key] = statistics.median(r[key] for r in runs)


async def measure_streams(proc: Proc, sizes: Sizes, out: dict[str, float], name: str, path: str, body: bytes) -> None:
    """Timings on streams paced 5 ms a chunk, then streams/s and CPU per stream with no pauses."""
    paced = load.http_request("POST", path, body, {"x-bench-delay-ms": "5"})
    samples, _ = await load.run(proc.port, paced, concurrency=1, total=sizes.timed_streams)
    check(proc, samples)
    out[f"{name}_ttfb_ms"] = pct([s.ttfb_ns or 0 for s in samples], 0.5)
    out[f"{name}_first_content_ms"] = pct([s.first_content_ns or 0 for s in samples], 0.5)
    delays = [d for s in samples for d in s.chunk_delays_ns]
    out[f"{name}_chunk_delay_ms"] = statistics.fmean(delays) / 1e6 if delays else float("nan")
    before = cpu_s(proc.pid)
    samples, took = await load.run(
        proc.port, load.http_request("POST", path, body), concurrency=16, total=sizes.streams
    )
    check(proc, samples)
    out[f"{name}_per_s"] = len(samples) / took
    out[f"{name}_cpu_us"] = (cpu_s(proc.pid) - before) / len(samples) * 1e6 if samples else float("nan")


def check(proc: Proc, samples: list[load.Sample]) -> None:
    """Every answer a 200; LiteLLM, which is compared and not vouched for, has its failures
    counted (a row of the table) instead of stopping the run."""
    bad = [s for s in samples if s.status != 200]
    if not bad:
        return
    if proc.name == "litellm":
        proc.failed += len(bad)
        samples[:] = [s for s in samples if s.status == 200]  # the timings are the answers'
        return
    example = bad[0].error or bad[0].status
    raise RuntimeError(f"{proc.name}: {len(bad)} of {len(samples)} answers were not 200 (e.g. {example})")


def proxyd_config(directory: Path, mock_port: int) -> Path:
    path = directory / "proxyd.yaml"
    base = f"http://127.0.0.1:{mock_port}/v1"
    path.write_text(
        "default_provider: mock\n"
        f"store: {{path: '{directory / 'responses.sqlite3'}'}}\n"
        f"ledger: {{path: '{directory / 'usage.sqlite3'}'}}\n"
        "providers:\n"
        f"  - {{name: mock, base_url: '{base}', api_key: bench-key, wire: chat,"
        " models: [{id: bench-model, alias: bench-alias}]}\n"
        # Two more names for the same mock: the targets of a model group whose first one answers.
        f"  - {{name: mock2, base_url: '{base}', api_key: bench-key, wire: chat, models: [bench-model]}}\n"
        f"  - {{name: mock3, base_url: '{base}', api_key: bench-key, wire: chat, models: [bench-model]}}\n"
        # The same mock with tool-call repair on.
        f"  - {{name: mockfix, base_url: '{base}', api_key: bench-key, wire: chat, models: [bench-model],"
        " tool_calls: {repair: true}}\n"
        "groups:\n"
        "  - {alias: bench-group, targets: [mock/bench-model, mock2/bench-model, mock3/bench-model]}\n"
    )
    return path


@contextmanager
def many_files() -> Iterator[None]:
    """1,000 open streams need about 2,000 descriptors in the proxy and 1,000 here."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def bench(sizes: Sizes, litellm: bool, workdir: Path) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(workdir)}
    mock_port = free_port()
    mock = start("mock", [sys.executable, "-m", "bench.mock", "--port", str(mock_port)], mock_port, "/v1/models",
                 env, workdir / "mock.log", LOAD_CORE)  # fmt: skip
    config = str(proxyd_config(workdir, mock_port))
    serve = [sys.executable, "-m", "proxyd", "serve", "--config", config, "--log-format", "json"]
    targets: list[tuple[str, list[str], str, int | None]] = [
        ("passthrough", [sys.executable, "-m", "bench.passthrough", "--upstream", f"http://127.0.0.1:{mock_port}"],
         "/v1/models", PROXY_CORE),
        ("proxyd", serve, "/readyz", PROXY_CORE),
    ]  # fmt: skip
    if litellm:
        from bench.litellm import command

        targets.append(("litellm", command(workdir, mock_port), "/health/readiness", PROXY_CORE))
    targets.append(("proxyd x2", [*serve, "--workers", "2"], "/readyz", None))
    results: dict[str, dict[str, float]] = {}
    procs: list[Proc] = []
    try:
        results["direct"] = await measure(Proc("direct", mock_port), sizes, translate=False)
        for name, cmd, ready, core in targets:
            port = free_port()
            log = workdir / f"{name.replace(' ', '-')}.log"
            procs.append(start(name, [*cmd, "--port", str(port)], port, ready, env, log, core))
        for proc in procs:
            if proc.name == "proxyd x2":
                results[proc.name] = {"startup_s": proc.startup_s or 0.0, "idle_rss_mb": float("nan")}
            else:
                results[proc.name] = await measure(proc, sizes, translate=proc.name in ("proxyd", "litellm"))
        await rounds_at(64, [Proc("direct", mock_port), *procs], sizes, results)
        # Where two workers are for: many clients at once (an office's agents on one gateway).
        await rounds_at(256, [p for p in procs if p.name in ("passthrough", "proxyd", "proxyd x2")], sizes, results)
        for proc in procs:
            results[proc.name]["failed"] = float(proc.failed)
    finally:
        for proc in procs:
            stop(proc)
        stop(mock)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few requests each (the test suite's smoke run)")
    parser.add_argument("--litellm", action="store_true", help="also LiteLLM's proxy (installs it on first use)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"), help="where to write the table")
    args = parser.parse_args(argv)
    results = pinned_run("proxyd-bench-", lambda tmp: bench(QUICK if args.quick else FULL, args.litellm, tmp))
    table = render(results, quick=args.quick)
    if args.litellm:
        from bench.litellm import VERSION

        table += f"\nLiteLLM {VERSION} (`litellm[proxy]`, pinned in bench/litellm.py), one worker, the same mock.\n"
    publish(table, args.out)
    return 0


def pinned_run(prefix: str, work: Callable[[Path], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` with this process (the load driver) on its core, enough descriptors for
    1,000 open streams, and a temporary directory for the processes it starts."""
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {LOAD_CORE})
    with many_files(), tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        return asyncio.run(work(Path(tmp)))


def publish(table: str, out: str) -> None:
    Path(out).write_text(table)
    print(table)


if __name__ == "__main__":
    sys.exit(main())
