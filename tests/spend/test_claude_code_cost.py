"""Claude Code, the real CLI, through proxyd to a priced chat provider whose answers carry
cached tokens: Claude Code reads the cache counts in Anthropic's fields, and the ledger, the
metrics and the access lines agree to the micro-dollar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from proxyd.spend.ledger import LEDGER
from tests.conftest import FakeUpstream, ProxyClient
from tests.spend.test_ledger import PRICE
from tests.test_claude_code import chat_only_with, run_claude
from tests.test_metrics import families

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
# 4,000 prompt tokens, 3,000 of them read from the cache and 500 written to it; 120 out.
USAGE = {"prompt_tokens": 4000, "completion_tokens": 120, "total_tokens": 4120,
         "prompt_tokens_details": {"cached_tokens": 3000, "cache_write_tokens": 500}}  # fmt: skip
EACH = 500 * 3 + 3000 * 0.3 + 500 * 3.75 + 120 * 15  # micro-dollars a request


async def test_claude_codes_spend_is_counted_to_the_micro_dollar(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.handler = chat_only_with(USAGE)
    client = await proxy_factory({"providers": [
        {"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE,
         "models": [{"id": "qwen3-coder", "alias": "claude-*"}]},
    ]})  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        events = await run_claude(client.origin, tmp_path)
    result = events[-1]
    assert result["type"] == "result" and result["subtype"] == "success"
    used = result["usage"]  # what Claude Code summed from the turns of its task (/cost reads the same)
    turns = used["input_tokens"] // 500
    assert turns >= 2 and used["input_tokens"] == turns * 500  # Anthropic's input leaves the cache out
    assert used["cache_read_input_tokens"] == turns * 3000 and used["cache_creation_input_tokens"] == turns * 500
    assert used["output_tokens"] == turns * 120
    lines = [e for e in logs if e["event"] == "request" and e["endpoint"] == "messages"]
    assert lines and all(round(line["cost_usd"] * 1e6) == EACH for line in lines)
    await client.app[LEDGER].flush()
    rows = await client.app[LEDGER].rows("1970-01-01")
    assert sum(r.get("requests") for r in rows) == len(lines)
    assert sum(r.get("cost_micros") for r in rows) == len(lines) * EACH
    assert sum(r.get("cache_read") for r in rows) == len(lines) * 3000
    fams = families(await (await client.get("/metrics")).text())
    metric = sum(s.value for f in fams.values() for s in f.samples if s.name == "proxyd_cost_usd_total")
    assert round(metric * 1e6) == len(lines) * EACH
