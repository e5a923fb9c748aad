"""A real Prometheus server scrapes proxyd on loopback; its query API must show our series."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import FakeUpstream, ProxyClient
from tests.daemons import free_port
from tests.helpers import WAIT, eventually
from tests.test_dashboards import dashboard_exprs

ProxyFactory = Callable[..., Awaitable[ProxyClient]]

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus not installed (.ci/run installs Debian's package)"
)

# The scrape_config the README shows, with a short interval for the test.
SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: proxyd
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


async def query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
        body = await resp.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def test_prometheus_scrapes_proxyd(tmp_path: Path, proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory(
        {"health": {"interval_s": 0.5}, "providers": [{"name": "local", "base_url": upstream.base_url}]}
    )
    assert (await client.post("/v1/chat/completions", json={"model": "local/m"})).status == 200
    config = tmp_path / "prometheus.yml"
    config.write_text(SCRAPE_CONFIG.format(port=client.port))
    web_port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{web_port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{web_port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def scraped() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
                assert proc.returncode is None, "prometheus exited"
                try:
                    requests = await query(session, base, "proxyd_requests_total")
                    states = await query(session, base, 'proxyd_provider_state{state="ok"} == 1')
                except aiohttp.ClientError:
                    return None
                return (requests, states) if requests and states else None

            # Prometheus starts, then scrapes every second: a longer bound than the usual one.
            requests, states = await eventually(scraped, "prometheus to see proxyd's series", every=0.5, wait=2 * WAIT)
            up = await query(session, base, 'up{job="proxyd"}')
            for expr in dashboard_exprs():  # every panel of the shipped dashboard is a query Prometheus takes
                await query(session, base, expr.replace("$__rate_interval", "1m"))
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    (series,) = requests
    assert series["metric"] | {"__name__": "proxyd_requests_total"} == {
        "__name__": "proxyd_requests_total",
        "job": "proxyd",
        "instance": f"127.0.0.1:{client.port}",
        "provider": "local",
        "endpoint": "chat.completions",
        "status": "200",
        "client": "default",
    }
    assert series["value"][1] == "1"
    (state,) = states
    assert state["metric"]["provider"] == "local" and state["metric"]["state"] == "ok"
    assert up[0]["value"][1] == "1"
