"""Budgets and rate limits on one instance, through the real SDKs: a clear 429 in the client's
shape with Retry-After and its API's rate-limit headers, a hard budget passed by at most one
request however many arrive at once, never a refusal below a limit, a soft budget that only
says so (tables of the pure parts beside)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import openai
import pytest
import structlog

from proxyd.spend.ledger import LEDGER
from proxyd.spend.limit_headers import duration, limit_headers, period_end
from tests.conftest import FakeUpstream, ProxyClient
from tests.spend.test_ledger import ONE_REQUEST_MICROS, PRICE, usage_server
from tests.test_metrics import families

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
KEY = "ci-token-0123456789abcdef"
ADMIN = "ops-token-0123456789abcdef"


async def gated(proxy_factory: ProxyFactory, upstream: FakeUpstream, **allowance: Any) -> ProxyClient:
    upstream.handler = usage_server
    return await proxy_factory({
        "listen": {"tokens": [{"name": "ci", "token": KEY, **allowance},
                              {"name": "ops", "token": ADMIN, "role": "admin"}]},
        "providers": [
            {"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE, "models": ["gpt-x"]},
            {"name": "claude", "base_url": upstream.base_url, "wire": "anthropic", "price": PRICE,
             "models": ["claude-x"]},
        ],
    })  # fmt: skip


def chat(client: ProxyClient, retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key=KEY, max_retries=retries)


async def ask(sdk: openai.AsyncOpenAI) -> Any:
    return await sdk.chat.completions.create(model="cloud/gpt-x", messages=[{"role": "user", "content": "hi"}])


async def test_requests_per_minute_refuses_the_one_past_it_in_each_wires_shape(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await gated(proxy_factory, upstream, limits={"requests_per_minute": 3})
    sdk = chat(client)
    for _ in range(3):
        await ask(sdk)  # never refused below the limit
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(sdk)
    headers = caught.value.response.headers
    assert "over its limit of 3 requests per minute" in caught.value.message
    assert 1 <= int(headers["retry-after"]) <= 60 and int(headers["retry-after-ms"]) <= 60_000
    assert headers["x-ratelimit-limit-requests"] == "3" and headers["x-ratelimit-remaining-requests"] == "0"
    claude = anthropic.AsyncAnthropic(base_url=client.origin, api_key=KEY, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as refused:
        await claude.messages.create(
            model="claude/claude-x", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["type"] == "error" and refused.value.body["error"]["type"] == "rate_limit_error"
    assert refused.value.response.headers["anthropic-ratelimit-requests-limit"] == "3"
    assert refused.value.response.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    fams = families(await (await client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})).text())
    refusals = [s for f in fams.values() for s in f.samples if s.name == "proxyd_rate_limited_total"]
    assert [(s.labels["client"], s.labels["limit"], s.value) for s in refusals] == [("ci", "requests_per_minute", 2)]


async def test_tokens_per_minute_counts_what_came_back(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await gated(proxy_factory, upstream, limits={"tokens_per_minute": 2000})
    sdk = chat(client)
    await ask(sdk)  # 1,200 tokens: under the limit
    await ask(sdk)  # admitted (1,200 < 2,000): its 1,200 fill the window
    await asyncio.sleep(0.2)  # the tokens are counted off the request path
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(sdk)
    assert "2,000 tokens per minute" in caught.value.message
    assert caught.value.response.headers["x-ratelimit-remaining-tokens"] == "0"


async def test_a_hard_budget_is_passed_by_one_request_at_most_under_a_burst(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    budget = 3 * ONE_REQUEST_MICROS / 1e6 - 0.0001  # room for a bit under three requests
    client = await gated(proxy_factory, upstream, budget={"usd_per_day": budget})
    sdk = chat(client)
    results = await asyncio.gather(*(ask(sdk) for _ in range(20)), return_exceptions=True)
    served = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(served) + len(refused) == 20
    assert len(served) == 3  # the third was admitted below the budget, and passed it: never one more
    for error in refused:
        assert "budget for the day" in error.message and error.code == "budget_exceeded"
        assert int(error.response.headers["retry-after"]) <= 86_400
    await client.app[LEDGER].flush()
    rows = await client.app[LEDGER].rows(time.strftime("%Y-%m-%d", time.gmtime()))
    spent = sum(r.get("cost_micros") for r in rows if r.client == "ci")
    assert budget * 1e6 <= spent <= budget * 1e6 + ONE_REQUEST_MICROS


async def test_a_soft_budget_refuses_nothing_and_says_so_once(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await gated(proxy_factory, upstream, budget={"usd_per_day": 0.005, "mode": "soft"})
    sdk = chat(client)
    with structlog.testing.capture_logs() as logs:
        for _ in range(4):
            await ask(sdk)
        await asyncio.sleep(0.2)
    said = [e for e in logs if e["event"] == "budget_exceeded"]
    assert len(said) == 1 and said[0]["mode"] == "soft" and said[0]["name"] == "ci"
    fams = families(await (await client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})).text())
    ratio = [s.value for f in fams.values() for s in f.samples
             if s.name == "proxyd_budget_used_ratio" and s.labels == {"kind": "client", "name": "ci", "period": "day"}]  # fmt: skip
    assert ratio == [pytest.approx(4 * ONE_REQUEST_MICROS / 5000)]


async def test_a_providers_budget_caps_every_client(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    upstream.handler = usage_server
    client = await proxy_factory({"providers": [
        {"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE, "models": ["gpt-x"],
         "budget": {"usd_per_month": 0.005}},
    ]})  # fmt: skip
    sdk = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)
    await ask(sdk)
    await ask(sdk)  # admitted below the cap ($0.004455 spent), and passes it
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(sdk)
    assert "provider 'cloud' has spent $0.01 of its $0.01 budget for the month" in caught.value.message


@pytest.mark.parametrize(
    ("wire", "kind", "expected"),
    [
        ("chat", "requests", {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0",
                              "x-ratelimit-reset-requests": "42s"}),
        ("responses", "tokens", {"x-ratelimit-limit-tokens": "60", "x-ratelimit-remaining-tokens": "0",
                                 "x-ratelimit-reset-tokens": "42s"}),
        ("anthropic", "requests", {"anthropic-ratelimit-requests-limit": "60",
                                   "anthropic-ratelimit-requests-remaining": "0",
                                   "anthropic-ratelimit-requests-reset": "2026-12-06T00:00:42Z"}),
        ("anthropic", "budget", {}),  # a budget has no header of either API's own: Retry-After says when
    ],
)  # fmt: skip
def test_limit_headers(wire: str, kind: str, expected: dict[str, str]) -> None:
    midnight = 1_796_515_200.0  # 2026-12-06T00:00:00Z
    headers = limit_headers(wire, kind, 60, 0, midnight + 42, 41.3)
    assert headers == {"Retry-After": "42", "retry-after-ms": "41300", **expected}


def test_durations_and_period_ends() -> None:
    assert [duration(s) for s in (1, 59, 60, 360, 3723)] == ["1s", "59s", "1m0s", "6m0s", "1h2m3s"]
    noon = 1_796_515_200.0 + 43_200
    assert period_end("day", noon) == 1_796_515_200.0 + 86_400
    assert time.gmtime(period_end("month", noon))[:3] == (2027, 1, 1)


async def test_each_sdks_own_retry_waits_out_the_window_and_gets_through(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """The slow one (about a minute): a client over its requests per minute, and the SDK retrying
    on its own after Retry-After (retry-after-ms), which the window honours to the second."""
    upstream.handler = usage_server
    one = {"requests_per_minute": 1}
    client = await proxy_factory({
        "listen": {"tokens": [{"name": "ci", "token": KEY, "limits": one},
                              {"name": "cc", "token": ADMIN, "limits": one}]},
        "providers": [
            {"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE, "models": ["gpt-x"]},
            {"name": "claude", "base_url": upstream.base_url, "wire": "anthropic", "price": PRICE,
             "models": ["claude-x"]},
        ],
    })  # fmt: skip
    openai_sdk = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key=KEY, max_retries=2)
    claude = anthropic.AsyncAnthropic(base_url=client.origin, api_key=ADMIN, max_retries=2)
    message = {"model": "claude/claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    await ask(openai_sdk)  # each fills its window
    await claude.messages.create(**message)
    began = time.monotonic()
    said, answered = await asyncio.gather(ask(openai_sdk), claude.messages.create(**message))
    waited = time.monotonic() - began
    assert said.usage is not None and answered.usage.output_tokens == 200
    assert 50 < waited < 75  # the window's minute, not the SDKs' own half-second backoffs
    seen = [s for s in upstream.seen if s.path.endswith(("/chat/completions", "/messages"))]
    assert len(seen) == 4  # the refused tries never reached the provider
