"""The benchmark in its smoke mode, so it does not rot: a few requests through every target, no
timing asserts (speed is judged by ``python -m bench`` itself, on a quiet machine)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_quick_benchmark_runs_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    run("bench", "--quick", "--out", str(out))
    table = out.read_text()
    assert table.splitlines()[0] == "| figure | direct | passthrough | proxyd | proxyd x2 |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    for figure in ("non-streaming c=64: requests/s", "streams/s (20 chunks, no pauses, c=16)",
                   "translated Responses streams/s (c=16)", "RSS with the slow streams open (MB)",
                   "non-streaming c=1, a 100 KB agent body: p50 (ms)", "non-streaming c=256: requests/s"):  # fmt: skip
        cells = rows[figure].strip("| ").split(" | ")[1:]
        assert cells[2] not in ("-", "nan", "0"), figure  # proxyd measured something
    for figure in ("non-streaming c=64: requests/s", "non-streaming c=256: requests/s"):
        assert rows[figure].strip("| ").split(" | ")[4] not in ("-", "0")  # 2 workers too
    for target in ("added latency c=1 p50, minus the passthrough's", "per-chunk added delay, minus the passthrough's",
                   "CPU per stream vs passthrough", "a 100 KB agent body: added latency vs a small body's",
                   "start to ready", "throughput c=64, 2 workers vs 1", "throughput c=256, 2 workers vs 1"):  # fmt: skip
        assert target in rows


def test_the_ablation_and_the_stage_timings_run(tmp_path: Path) -> None:
    out = tmp_path / "ablation.md"
    run("bench.ablation", "--quick", "--out", str(out))
    rows = [line.split(" | ")[0].lstrip("| ") for line in out.read_text().splitlines()[2:] if line.startswith("| ")]
    assert rows[:2] == ["as run", "as run, again"] and {"access_line", "everything off", "passthrough"} <= set(rows)
    timed = run("bench.stagecost", "--number", "20")
    assert "the access line, written straight as JSON" in timed.stdout and "routing" in timed.stdout


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (.ci/run installs it)")
def test_the_instruction_count_runs(tmp_path: Path) -> None:
    out = tmp_path / "instructions.md"
    run("bench.instructions", "--quick", "--out", str(out))
    rows = {
        line.split(" | ")[0].lstrip("| "): line for line in out.read_text().splitlines()[2:] if line.startswith("| ")
    }
    assert list(rows) == ["as run", "access_line", "everything off", "passthrough"]
    counts = [int(line.split(" | ")[2].replace(",", "")) for line in rows.values()]
    assert all(count > 100_000 for count in counts)  # a request is at least that many instructions
    assert counts[0] > counts[2]  # switching every stage off saves some


async def test_the_driver_counts_a_malformed_or_cut_answer_as_a_failed_sample() -> None:
    """As LiteLLM's translated streams once broke it: a status line that is not one, a chunk
    size that is not hex, a connection closed mid-answer. Each is a failed sample; the run goes
    on, on a new connection."""
    from bench import load

    answers = [
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short",
    ]
    served: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):  # a GET: no body follows
            served.append(1)
            n = len(served)
            if n <= len(answers):
                writer.write(answers[n - 1])
                await writer.drain()
                writer.close()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        samples, _ = await asyncio.wait_for(load.run(port, load.http_request("GET", "/"), concurrency=1, total=6), 10)
    finally:
        server.close()
    assert [s.status for s in samples] == [0, 0, 0, 200, 200, 200]
    assert all(s.error for s in samples[:3]) and "malformed" in (samples[0].error or "")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (.ci/run installs it)")
def test_the_store_latency_runs(tmp_path: Path) -> None:
    out = tmp_path / "store.md"
    run("bench.store", "--quick", "--out", str(out))
    rows = [line.split(" | ")[:2] for line in out.read_text().splitlines() if line.startswith("| ") and "µs" in line]
    assert [engine.lstrip("| ") for engine, _ in rows] == ["SQLite (file)", "Redis (loopback)"] * 2


def test_the_cache_hit_rows_run_and_affinity_and_breakpoints_pay() -> None:
    from bench.cachehits import render, run

    results = asyncio.run(run(turns=4))
    ideal = results["one prefix cache for every turn (the ideal)"]
    assert results["group of two prefix caches, affinity on"] == pytest.approx(ideal, abs=0.01)
    assert results["group of two prefix caches, affinity on"] > results["group of two prefix caches, affinity off"]
    assert results["chat client to an Anthropic provider, prompt_cache auto"] > 0.5
    assert results["chat client to an Anthropic provider, prompt_cache off"] == 0
    assert "| setting | cache hit ratio |" in render(results, 4)
