"""/metrics after a scripted set of requests: names, types, labels and values; the access log line;
and promtool's own check of a live scrape."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from proxyd.errors import ERROR_REASONS
from proxyd.metrics import UPSTREAM_REASONS
from tests.conftest import FakeUpstream, ProxyClient

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
CHAT = "/v1/chat/completions"
USAGE = {
    "prompt_tokens": 7,
    "completion_tokens": 3,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens_details": {"reasoning_tokens": 1},
}


def completion(model: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": "hi"}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {"id": "c1", "object": "chat.completion", "model": model, "choices": [choice], "usage": USAGE}


async def scripted_upstream(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if body.get("model") == "boom":
        return web.json_response({"error": {"message": "overloaded", "type": "server_error"}}, status=503)
    if not body.get("stream"):
        return web.json_response(completion(body.get("model", "")))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for piece in ({"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}):
        await resp.write(f"data: {json.dumps({'choices': [{'index': 0, 'delta': piece}]})}\n\n".encode())
    await resp.write(
        f"data: {json.dumps({'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n".encode()
    )
    await resp.write(f"data: {json.dumps({'choices': [], 'usage': USAGE})}\n\ndata: [DONE]\n\n".encode())
    return resp


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    for s in (x for f in fams.values() for x in f.samples):
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {sample} {labels} (family {family})")


async def scrape(client: ProxyClient) -> str:
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return str(await resp.text())


@pytest.fixture
async def scripted(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = scripted_upstream
    return await proxy_factory(
        {
            "default_provider": "local",
            "providers": [
                {
                    "name": "local",
                    "base_url": upstream.base_url,
                    "wire": "chat",
                    "models": [{"id": "llama3.2", "alias": "fast"}],
                },
                {"name": "down", "base_url": "http://127.0.0.1:1/v1"},
            ],
        }
    )


async def run_script(client: ProxyClient) -> None:
    assert (await client.post(CHAT, json={"model": "fast"})).status == 200
    resp = await client.post(CHAT, json={"model": "local/llama3.2", "stream": True})
    assert (await resp.read()).endswith(b"data: [DONE]\n\n")
    assert (await client.post(CHAT, json={"model": "boom"})).status == 503
    assert (await client.post(CHAT, json={"model": "down/x"})).status == 502
    assert (await client.post(CHAT, data=b"{not json", headers={"Content-Type": "application/json"})).status == 400


async def test_series_with_known_labels_exist_at_zero_before_any_event(scripted: ProxyClient) -> None:
    fams = families(await scrape(scripted))
    for result in ("success", "failure"):
        assert value(fams, "proxyd_config_reloads", "proxyd_config_reloads_total", result=result) == 0
    for reason in ("host", "origin", "token"):
        assert value(fams, "proxyd_refused_requests", "proxyd_refused_requests_total", reason=reason) == 0
    for source, target in (("responses", "chat"), ("chat", "responses")):
        assert value(fams, "proxyd_translations", "proxyd_translations_total", **{"from": source, "to": target}) == 0
    for provider in ("local", "down"):
        for reason in ("connect", "tls", "timeout", "status_5xx", "status_4xx", "protocol"):
            assert (
                value(fams, "proxyd_upstream_errors", "proxyd_upstream_errors_total", provider=provider, reason=reason)
                == 0
            )
        for family in ("proxyd_client_disconnects", "proxyd_stream_chunks", "proxyd_fallbacks"):
            assert value(fams, family, f"{family}_total", provider=provider) == 0
        assert value(fams, "proxyd_inflight_requests", "proxyd_inflight_requests", provider=provider) == 0


def test_every_upstream_error_reason_is_one_started_at_zero() -> None:
    assert {*ERROR_REASONS.values(), "status_5xx", "status_4xx"} == set(UPSTREAM_REASONS)


async def test_series_after_a_scripted_run(scripted: ProxyClient) -> None:
    await run_script(scripted)
    fams = families(await scrape(scripted))
    assert fams["proxyd_requests"].type == "counter"
    assert (
        value(
            fams,
            "proxyd_requests",
            "proxyd_requests_total",
            provider="local",
            endpoint="chat.completions",
            status="200",
        )
        == 2
    )
    assert value(fams, "proxyd_requests", "proxyd_requests_total", provider="local", status="503") == 1
    assert value(fams, "proxyd_requests", "proxyd_requests_total", provider="down", status="502") == 1
    assert value(fams, "proxyd_requests", "proxyd_requests_total", provider="none", status="400") == 1
    assert fams["proxyd_request_duration_seconds"].type == "histogram"
    assert (
        value(fams, "proxyd_request_duration_seconds", "proxyd_request_duration_seconds_count", provider="local") == 3
    )
    buckets = {s.labels["le"] for s in fams["proxyd_request_duration_seconds"].samples if "le" in s.labels}
    assert {"0.0005", "600.0", "+Inf"} <= buckets  # a proxy hop and a ten-minute stream both resolve
    assert value(fams, "proxyd_upstream_ttfb_seconds", "proxyd_upstream_ttfb_seconds_count", provider="local") == 3
    ttft = "proxyd_time_to_first_token_seconds"
    assert value(fams, ttft, ttft + "_count", provider="local", endpoint="chat.completions") == 1
    assert value(fams, "proxyd_stream_chunks", "proxyd_stream_chunks_total", provider="local") >= 1
    assert value(fams, "proxyd_inflight_requests", "proxyd_inflight_requests", provider="local") == 0
    for kind, count in (("prompt", 14), ("completion", 6), ("reasoning", 2), ("cache_read", 4)):
        assert (
            value(fams, "proxyd_tokens", "proxyd_tokens_total", provider="local", model="llama3.2", kind=kind) == count
        )
    errors = "proxyd_upstream_errors"
    assert value(fams, errors, errors + "_total", provider="local", reason="status_5xx") == 1
    assert value(fams, errors, errors + "_total", provider="down", reason="connect") == 1
    assert value(fams, "proxyd_build", "proxyd_build_info") == 1
    assert fams["proxyd_config_last_reload_success_timestamp_seconds"].type == "gauge"


async def test_labels_never_take_raw_client_input(scripted: ProxyClient) -> None:
    for i in range(200):
        assert (await scripted.post(CHAT, json={"model": f"random-model-{i}"})).status == 200
    text = await scrape(scripted)
    assert "random-model" not in text
    fams = families(text)
    models = {s.labels["model"] for s in fams["proxyd_tokens"].samples}
    assert models == {"other"}
    assert value(fams, "proxyd_tokens", "proxyd_tokens_total", model="other", kind="prompt") == 7 * 200


async def test_client_disconnect_is_counted(scripted: ProxyClient, upstream: FakeUpstream) -> None:
    gone = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            while True:
                await resp.write(b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n')
                await asyncio.sleep(0.02)
        finally:
            gone.set()

    upstream.handler = endless
    resp = await scripted.post(CHAT, json={"model": "fast", "stream": True})
    await resp.content.readany()
    resp.close()
    await asyncio.wait_for(gone.wait(), 10)
    for _ in range(100):
        fams = families(await scrape(scripted))
        try:
            got = value(fams, "proxyd_client_disconnects", "proxyd_client_disconnects_total", provider="local")
        except AssertionError:
            got = 0
        if got == 1:
            break
        await asyncio.sleep(0.05)
    assert got == 1
    assert value(fams, "proxyd_inflight_requests", "proxyd_inflight_requests", provider="local") == 0


async def test_one_access_line_per_request(scripted: ProxyClient) -> None:
    with structlog.testing.capture_logs() as logs:
        await run_script(scripted)
    lines = [e for e in logs if e["event"] == "request"]
    assert len(lines) == 5
    first, stream, boom, down, bad = lines
    assert first["provider"] == "local" and first["model"] == "llama3.2" and first["status"] == 200
    assert first["tokens"] == {"prompt": 7, "completion": 3, "reasoning": 1, "cache_read": 2, "cache_write": 0}
    assert first["wire"] == "chat" and first["translated"] is None and first["ttfb_ms"] > 0
    assert stream["ttft_ms"] is not None and stream["chunks"] >= 1 and stream["tokens"]["prompt"] == 7
    assert boom["status"] == 503 and boom["upstream_error"] == "status_5xx"
    assert (
        down["status"] == 502 and down["upstream_error"] == "connect" and down["error_code"] == "upstream_unreachable"
    )
    assert bad["status"] == 400 and bad["provider"] == "none"
    keys = {"request_id", "provider", "model", "endpoint", "status", "duration_ms", "ttfb_ms", "ttft_ms", "wire",
            "translated", "tokens", "client_disconnected"}  # fmt: skip
    assert all(keys <= set(line) for line in lines)
    assert len({line["request_id"] for line in lines}) == 5


async def test_translated_requests_are_observed(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    upstream.handler = scripted_upstream
    client = await proxy_factory({"providers": [{"name": "c", "base_url": upstream.base_url, "wire": "chat"}]})
    with structlog.testing.capture_logs() as logs:
        resp = await client.post("/v1/responses", json={"model": "c/m", "input": "hi", "stream": True})
        assert b"response.completed" in await resp.read()
        for _ in range(200):  # the line is written once the handler returns, just after the last byte
            if any(e["event"] == "request" for e in logs):
                break
            await asyncio.sleep(0.01)
    (line,) = [e for e in logs if e["event"] == "request"]
    assert line["endpoint"] == "responses" and line["wire"] == "chat" and line["translated"] == "responses->chat"
    assert line["tokens"]["prompt"] == 7 and line["ttft_ms"] is not None


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (.ci/run installs Debian's prometheus)"
)
async def test_promtool_accepts_a_live_scrape(scripted: ProxyClient) -> None:
    await run_script(scripted)
    text = await scrape(scripted)
    proc = await asyncio.create_subprocess_exec(
        "promtool", "check", "metrics", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    said, _ = await asyncio.wait_for(proc.communicate(text.encode()), 60)
    assert proc.returncode == 0, said.decode()
