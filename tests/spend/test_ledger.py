"""The usage ledger: counts added off the request path, kept across restarts, and the same to
the cent in the ledger, ``proxyd usage``, the metrics and the access lines, through the real
openai and anthropic SDKs against fakes whose usage (cached tokens included) is known."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import structlog
import yaml
from aiohttp import web

from proxyd.spend.ledger import LEDGER, Ledger
from proxyd.spend.ledger_sqlite import SQLiteLedger
from proxyd.spend.rows import Row
from proxyd.usage import Usage
from tests.conftest import FakeUpstream, ProxyClient
from tests.test_metrics import families

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
ROOT = Path(__file__).resolve().parents[2]
PRICE = {"input_per_mtok": 3, "output_per_mtok": 15, "cache_read_per_mtok": 0.3, "cache_write_per_mtok": 3.75}
# Each fake answers every request with this usage: 1,000 prompt tokens of which 600 cache reads
# and 100 cache writes, 200 completion tokens of which 50 reasoning (Anthropic: no reasoning count).
CHAT_USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
              "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 100},
              "completion_tokens_details": {"reasoning_tokens": 50}}  # fmt: skip
ANTHROPIC_USAGE = {"input_tokens": 300, "cache_read_input_tokens": 600, "cache_creation_input_tokens": 100,
                   "output_tokens": 200}  # fmt: skip
# 300 x $3 + 600 x $0.30 + 100 x $3.75 + 200 x $15, per million: $0.004455 a request
ONE_REQUEST_MICROS = 300 * 3 + 600 * 0.3 + 100 * 3.75 + 200 * 15


async def usage_server(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if request.path.endswith("/messages"):
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                   "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": ANTHROPIC_USAGE}  # fmt: skip
        if not body.get("stream"):
            return web.json_response(message)
        events = [
            ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                                    "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 200}}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        return await _sse(request, b"".join(f"event: {k}\ndata: {json.dumps(d)}\n\n".encode() for k, d in events))
    completion = {"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                  "usage": CHAT_USAGE}  # fmt: skip
    if not body.get("stream"):
        return web.json_response(completion)
    chunks = [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]},
              {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": body["model"], "choices": [],
               "usage": CHAT_USAGE}]  # fmt: skip
    return await _sse(request, b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n")


async def _sse(request: web.Request, body: bytes) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(body)
    return resp


def team_config(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "listen": {
            "tokens": [
                {"name": "alice", "token": "alice-token-0123456789"},
                {"name": "bob", "token": "bob-token-0123456789ab"},
                {"name": "ops", "token": "ops-token-0123456789ab", "role": "admin"},
            ]
        },
        "providers": [
            {"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE, "models": ["gpt-x"]},
            {
                "name": "claude",
                "base_url": upstream.base_url,
                "wire": "anthropic",
                "price": PRICE,
                "models": ["claude-x"],
            },
            {"name": "free", "base_url": upstream.base_url, "wire": "chat", "models": ["llama"]},  # a local server
        ],
    }


async def test_the_ledger_the_report_the_metrics_and_the_access_lines_agree(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.handler = usage_server
    raw = team_config(upstream)
    client = await proxy_factory(raw)
    alice = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="alice-token-0123456789", max_retries=0)
    bob = anthropic.AsyncAnthropic(base_url=client.origin, api_key="bob-token-0123456789ab", max_retries=0)
    with structlog.testing.capture_logs() as logs:
        for model in ("cloud/gpt-x", "claude/claude-x", "free/llama"):  # same wire, translated, local
            said = await alice.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert said.usage is not None and said.usage.prompt_tokens == 1000
            stream = await alice.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                         stream=True, stream_options={"include_usage": True})  # fmt: skip
            async for _ in stream:
                pass
        for model in ("claude/claude-x", "cloud/gpt-x"):
            message = await bob.messages.create(
                model=model, max_tokens=300, messages=[{"role": "user", "content": "hi"}]
            )
            assert message.usage.cache_read_input_tokens == 600  # Claude Code's /cost reads these
            assert message.usage.cache_creation_input_tokens == 100 and message.usage.input_tokens == 300
            async with bob.messages.stream(
                model=model, max_tokens=300, messages=[{"role": "user", "content": "hi"}]
            ) as s:
                final = await s.get_final_message()
            assert final.usage.cache_read_input_tokens == 600 and final.usage.output_tokens == 200
    await client.app[LEDGER].flush()
    lines = [e for e in logs if e["event"] == "request"]
    spent = {"alice": 4 * ONE_REQUEST_MICROS, "bob": 4 * ONE_REQUEST_MICROS}  # the local server's two cost 0
    by_line: dict[str, float] = {}
    for line in lines:
        by_line[line["client"]] = by_line.get(line["client"], 0) + line["cost_usd"]
        assert line["tokens"]["cache_read"] == 600 and line["tokens"]["cache_write"] == 100, (
            line["provider"],
            line["endpoint"],
            line["translated"],
            line["tokens"],
        )
    fams = families(await scrape_admin(client))
    for name, micros in spent.items():
        assert round(by_line[name] * 1e6) == micros
        metric = sum(s.value for f in fams.values() for s in f.samples
                     if s.name == "proxyd_cost_usd_total" and s.labels["client"] == name)  # fmt: skip
        assert round(metric * 1e6) == micros
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({**raw, "ledger": {"path": str(tmp_path / "usage-0.sqlite3")}}))
    report = json.loads(usage_cli(path, "--json", "--by", "client"))
    assert {r["client"]: round(r["cost_usd"] * 1e6) for r in report["rows"]} == spent
    assert {r["client"]: r["requests"] for r in report["rows"]} == {"alice": 6, "bob": 4}
    assert {r["client"]: r["cache_read"] for r in report["rows"]} == {"alice": 3600, "bob": 2400}
    by_model = json.loads(usage_cli(path, "--json", "--by", "model"))
    assert {r["model"]: r["unpriced"] for r in by_model["rows"]} == {"gpt-x": 0, "claude-x": 0, "llama": 0}
    table = usage_cli(path, "--by", "provider")
    assert "cloud" in table and "$0.02" in table and "total" in table  # 4 x $0.004455, to the cent


async def scrape_admin(client: ProxyClient) -> str:
    resp = await client.get("/metrics", headers={"Authorization": "Bearer ops-token-0123456789ab"})
    assert resp.status == 200
    return str(await resp.text())


def usage_cli(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "proxyd", "usage", "--config", str(config), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_flush_adds_and_a_store_that_fails_keeps_the_counts(tmp_path: Path) -> None:
    clock = [86_400 * 20_000 + 3_600.0]  # one morning, UTC
    store = SQLiteLedger(tmp_path / "u.sqlite3", keep_days=400)
    await store.open()
    ledger = Ledger(store, 1.0, clock=lambda: clock[0])
    for _ in range(3):
        ledger.record("ci", "cloud", "gpt-x", Usage(prompt=10, completion=2, cache_read=4), 55)
    ledger.record("ci", "cloud", "other", Usage(prompt=5), None)  # unpriced: counted, and said so
    await ledger.flush()
    clock[0] += 86_400  # the next day: another row
    ledger.record("ci", "cloud", "gpt-x", None, None)  # a request with no usage still counts as one
    (tmp_path / "a-file").write_text("")
    broken, store.path = store.path, tmp_path / "a-file" / "u.sqlite3"  # the store fails this once
    store._db = None
    await ledger.flush()
    assert len(ledger.pending()) == 1  # kept for the next flush
    store.path = broken
    await ledger.flush()
    rows = await store.rows("1970-01-01")
    assert [(r.day, r.model, r.get("requests"), r.get("cost_micros"), r.get("unpriced")) for r in rows] == [
        ("2024-10-04", "gpt-x", 3, 165, 0), ("2024-10-04", "other", 1, 0, 1), ("2024-10-05", "gpt-x", 1, 0, 0),
    ]  # fmt: skip
    assert rows[0].get("cache_read") == 12 and rows[0].get("prompt") == 30


def test_a_killed_proxyd_leaves_a_ledger_that_reads(tmp_path: Path) -> None:
    """SIGKILL in the middle of writes: the file is whole, every flushed count is there."""
    path = tmp_path / "u.sqlite3"
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from proxyd.spend.ledger import Ledger\n"
        "from proxyd.spend.ledger_sqlite import SQLiteLedger\n"
        "from proxyd.usage import Usage\n"
        "async def main():\n"
        f"    store = SQLiteLedger(Path({str(path)!r}), 400)\n"
        "    await store.open()\n"
        "    ledger = Ledger(store, 0.01)\n"
        "    n = 0\n"
        "    while True:\n"
        "        ledger.record('c', 'p', 'm', Usage(prompt=1), 1)\n"
        "        n += 1\n"
        "        if n % 100 == 0:\n"
        "            await ledger.flush()\n"
        "            print(n, flush=True)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    flushed = 0
    for line in proc.stdout:
        flushed = int(line)
        if flushed >= 3000:
            break
    proc.kill()
    proc.wait(10)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (requests,) = db.execute("SELECT requests FROM usage").fetchone()
    assert requests >= flushed  # every flush that was said done is in the file


@pytest.mark.parametrize(
    ("rows", "by", "expected"),
    [
        ([Row("2026-12-01", "a", "p", "m", (1, 0, 0, 0, 0, 0, 10, 0)),
          Row("2026-12-02", "b", "p", "m", (2, 0, 0, 0, 0, 0, 30, 0))], "client", ["b", "a"]),  # costliest first
        ([Row("2026-12-02", "a", "p", "m", (1, 0, 0, 0, 0, 0, 10, 0)),
          Row("2026-12-01", "a", "p", "m", (1, 0, 0, 0, 0, 0, 10, 0))], "day", ["2026-12-01", "2026-12-02"]),
    ],
)  # fmt: skip
def test_the_report_orders(rows: list[Row], by: str, expected: list[str]) -> None:
    from proxyd.spend.report import summarize

    assert [e[by] for e in summarize(rows, by)] == expected
