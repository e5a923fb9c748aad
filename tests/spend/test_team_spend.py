"""Budgets, rate limits and the ledger in team mode: two ``proxyd serve`` instances sharing a
real redis-server, behind HAProxy with deploy/haproxy.cfg, 50 requests at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import FakeUpstream
from tests.daemons import Daemon, free_port, haproxy, redis_server
from tests.helpers import eventually
from tests.spend.test_ledger import ONE_REQUEST_MICROS, PRICE, usage_cli, usage_server
from tests.test_reload import Daemon as Serving
from tests.test_reload import serve
from tests.test_team import balancer_config

TOKENS = {"ci": "ci-team-token-0123456789", "bot": "bot-team-token-0123456789"}
BUDGET_REQUESTS = 10
BUDGET = BUDGET_REQUESTS * ONE_REQUEST_MICROS / 1e6 - 0.0001  # a bit under ten requests' worth
PER_MINUTE = 20


@dataclass
class Team:
    lb: str
    instances: list[Serving]
    config: Path


@pytest.fixture
async def team(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[Team]:
    upstream.handler = usage_server
    redis = redis_server(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({
        "listen": {"tokens": [
            {"name": "ci", "token": TOKENS["ci"], "budget": {"usd_per_day": BUDGET}},
            {"name": "bot", "token": TOKENS["bot"], "limits": {"requests_per_minute": PER_MINUTE}},
        ]},
        "store": {"url": f"redis://127.0.0.1:{redis.port}/0"},
        "ledger": {"flush_s": 0.2},
        "health": {"interval_s": 0},
        "providers": [{"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE,
                       "models": ["gpt-x"]}],
    }))  # fmt: skip
    ports = {"proxyd-1": free_port(), "proxyd-2": free_port()}
    instances: list[Serving] = []
    balancer: Daemon | None = None
    try:
        for port in ports.values():
            instances.append(await serve(config, "--port", str(port)))
        lb_port = free_port()
        balancer = haproxy(balancer_config(tmp_path, lb_port, ports), lb_port)
        team = Team(f"http://127.0.0.1:{lb_port}", instances, config)
        await eventually(lambda: _ready(team), "HAProxy to send requests to the instances")
        yield team
    finally:
        if balancer is not None:
            balancer.stop()
        for instance in instances:
            await instance.stop()
        redis.stop()


async def _ready(team: Team) -> bool:
    sdk = openai.AsyncOpenAI(base_url=team.lb + "/v1", api_key="none", max_retries=0)
    try:
        await sdk.models.list()
    except openai.APIStatusError:
        return True  # answered (a 401 here: the token is wrong on purpose)
    except openai.APIConnectionError:
        return False
    return True


async def burst(team: Team, who: str, count: int) -> tuple[list[Any], list[openai.RateLimitError]]:
    sdk = openai.AsyncOpenAI(base_url=team.lb + "/v1", api_key=TOKENS[who], max_retries=0)
    results = await asyncio.gather(
        *(sdk.chat.completions.with_raw_response.create(model="cloud/gpt-x", messages=[{"role": "user", "content": "hi"}])
          for _ in range(count)),
        return_exceptions=True,
    )  # fmt: skip
    served = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(served) + len(refused) == count, [r for r in results if isinstance(r, BaseException)][:3]
    return served, refused


async def test_a_hard_budget_holds_across_instances(team: Team) -> None:
    served, refused = await burst(team, "ci", 50)
    assert {r.headers["x-proxyd-instance"] for r in served} == {"proxyd-1", "proxyd-2"}  # both took a share
    # Never refused below the budget; past it by at most one request an instance.
    assert BUDGET_REQUESTS <= len(served) <= BUDGET_REQUESTS + len(team.instances)
    assert all(e.code == "budget_exceeded" for e in refused)

    async def ledger_has_all() -> bool:
        report = json.loads(usage_cli(team.config, "--json", "--since", "today"))
        return {r["client"]: r["requests"] for r in report["rows"]} == {"ci": len(served)}

    await eventually(ledger_has_all, "both instances' counts in the shared ledger")
    report = json.loads(usage_cli(team.config, "--json", "--since", "today"))
    assert report["ledger"].startswith("redis://127.0.0.1:")
    assert round(report["total"]["cost_usd"] * 1e6) == len(served) * ONE_REQUEST_MICROS


async def test_a_rate_limit_is_one_window_for_every_instance(team: Team) -> None:
    served, refused = await burst(team, "bot", 50)
    assert len(served) == PER_MINUTE  # exactly: never refused below it, never one more
    answered = [r.headers for r in served] + [e.response.headers for e in refused]
    assert {h["x-proxyd-instance"] for h in answered} == {"proxyd-1", "proxyd-2"}  # both counted in one window
    for error in refused:
        assert "20 requests per minute" in error.message
        assert error.response.headers["x-ratelimit-limit-requests"] == str(PER_MINUTE)
