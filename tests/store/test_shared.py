"""The Redis store against a real redis-server: its promises, its bounds, and a store that is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from proxyd.config.settings import Store
from proxyd.store.base import StoreDown
from proxyd.store.shared import INDEX, SIZES, TOTAL, RedisStore
from tests.conftest import FakeUpstream, ProxyClient
from tests.daemons import Daemon, free_port, redis_server
from tests.fakes.echo import chat_server

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
PASSWORD = "s3cret-redis-password"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Daemon]:
    server = redis_server(tmp_path, password=PASSWORD)
    yield server
    server.stop()


def url_of(server: Daemon, password: str = PASSWORD) -> str:
    return f"redis://:{password}@127.0.0.1:{server.port}/0"


@pytest.fixture
async def store(redis: Daemon) -> AsyncIterator[RedisStore]:
    opened = RedisStore(url_of(redis), Store(max_mb=0.01))
    await opened.open()
    yield opened
    await opened.close()


def turn(i: int, size: int = 10) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return [{"type": "message", "role": "user", "content": "x" * size}], {"id": f"resp_{i}", "output": []}


async def test_put_get_delete(store: RedisStore) -> None:
    await store.put(*turn(1))
    record = await store.get("resp_1")
    assert record is not None and record.response == {"id": "resp_1", "output": []}
    assert record.input[0]["content"] == "x" * 10
    assert await store.get("resp_2") is None
    assert await store.delete("resp_1") is True and await store.delete("resp_1") is False
    assert await store.get("resp_1") is None
    assert await books(store) == (0, 0, 0)  # the index, sizes and total forget it too
    assert store.describe() == {"engine": "redis", "where": f"redis://127.0.0.1:{store.where.rsplit(':', 1)[1]}",
                                "ok": True, "error": None}  # fmt: skip


async def test_each_record_keeps_its_owner(store: RedisStore) -> None:
    await store.put(*turn(1), owner="alice")
    await store.put(*turn(2))
    one, two = await store.get("resp_1"), await store.get("resp_2")
    assert one is not None and one.owner == "alice"
    assert two is not None and two.owner == "default"  # no owner said: the one-person proxyd's


async def test_the_oldest_go_first_past_max_mb(store: RedisStore) -> None:
    for i in range(6):  # 0.01 MB (10,485 bytes) holds three records of 3,070 bytes
        await store.put(*turn(i, 3000))
    kept = [i for i in range(6) if await store.get(f"resp_{i}") is not None]
    assert kept == [3, 4, 5]
    count, sizes, total = await books(store)
    assert count == sizes == 3 and 9000 < total <= 10485


async def test_records_expire_by_age_and_leave_the_books(redis: Daemon) -> None:
    aged = RedisStore(url_of(redis), Store(max_age_days=0.3 / 86400))  # 0.3 s
    await aged.open()
    try:
        await aged.put(*turn(1))
        assert await aged.get("resp_1") is not None
        await asyncio.sleep(0.5)
        assert await aged.get("resp_1") is None
        await aged.put(*turn(2))  # a put takes the expired off the books
        count, _, total = await books(aged)
        assert count == 1 and total == len(
            b'{"input":[{"type":"message","role":"user","content":"xxxxxxxxxx"}],'
        ) + len(b'"response":{"id":"resp_2","output":[]},"owner":"default"}')
    finally:
        await aged.close()


async def test_a_store_that_is_down_raises_store_down_without_its_password(tmp_path: Path) -> None:
    nothing = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    store = RedisStore(nothing, Store())
    with structlog.testing.capture_logs() as logs:
        await store.open()  # proxyd starts without its store
    assert [e["event"] for e in logs] == ["store_unreachable"]
    with pytest.raises(StoreDown) as down:
        await store.get("resp_1")
    with pytest.raises(StoreDown):
        await store.put(*turn(1))
    assert PASSWORD not in str(down.value) and PASSWORD not in repr(store.describe()) and PASSWORD not in repr(logs)
    assert down.value.where.startswith("redis://127.0.0.1:") and not store.describe()["ok"]
    await store.close()


async def test_a_wrong_password_is_store_down(redis: Daemon) -> None:
    store = RedisStore(url_of(redis, "not-the-password"), Store())
    await store.open()
    with pytest.raises(StoreDown) as down:
        await store.get("resp_1")
    assert "not-the-password" not in str(down.value)
    await store.close()


async def test_a_killed_and_restarted_store_is_reconnected(redis: Daemon, store: RedisStore) -> None:
    await store.put(*turn(1))
    redis.kill()
    with pytest.raises(StoreDown):
        await store.get("resp_1")
    redis.restart()  # empty: it saved nothing
    assert await store.get("resp_1") is None
    await store.put(*turn(2))  # its scripts are loaded again (NOSCRIPT)
    assert await store.get("resp_2") is not None and store.describe()["ok"]


async def books(store: RedisStore) -> tuple[int, int, int]:
    conn = store._conn()
    return await conn.zcard(INDEX), await conn.hlen(SIZES), int(await conn.get(TOTAL) or 0)


# --- through proxyd ----------------------------------------------------------------------------


@pytest.fixture
async def shared_pair(proxy_factory: ProxyFactory, upstream: FakeUpstream, redis: Daemon) -> list[ProxyClient]:
    upstream.handler = chat_server
    raw = {
        "providers": [{"name": "llama", "base_url": upstream.base_url, "wire": "chat"}],
        "store": {"url": url_of(redis)},
    }
    return [await proxy_factory(raw), await proxy_factory(raw)]


async def test_two_instances_share_one_conversation(shared_pair: list[ProxyClient], upstream: FakeUpstream) -> None:
    one, two = shared_pair
    body = {"model": "llama/q", "input": "hi", "stream": True}
    async with one.post("/v1/responses", json=body) as resp:
        text = await resp.text()
    response_id = text.split('"id":"', 1)[1].split('"', 1)[0]
    async with two.post(
        "/v1/responses", json={"model": "llama/q", "input": "again", "previous_response_id": response_id}
    ) as r:
        assert r.status == 200, await r.text()
    assert [m["content"] for m in upstream.last.json()["messages"]] == ["hi", "Hello! You said: hi", "again"]
    async with two.get(f"/v1/responses/{response_id}") as r:
        assert r.status == 200 and (await r.json())["id"] == response_id
    async with two.request("DELETE", f"/v1/responses/{response_id}") as r:
        assert (await r.json())["deleted"] is True
    async with one.get(f"/v1/responses/{response_id}") as r:
        assert r.status == 404
    async with one.get("/status") as r:
        assert (await r.json())["store"]["engine"] == "redis"


async def test_a_down_store_is_a_503_naming_it_only_where_needed(shared_pair: list[ProxyClient], redis: Daemon) -> None:
    one, _ = shared_pair
    async with one.post("/v1/responses", json={"model": "llama/q", "input": "hi"}) as r:
        first = (await r.json())["id"]
    redis.kill()
    follow_up = {"model": "llama/q", "input": "again", "previous_response_id": first}
    async with one.post("/v1/responses", json=follow_up) as r:
        assert r.status == 503
        error = (await r.json())["error"]
    assert error["code"] == "store_unavailable" and error["param"] == "previous_response_id"
    assert f"redis://127.0.0.1:{redis.port}/0 is not answering" in error["message"]
    assert PASSWORD not in error["message"]
    async with one.get(f"/v1/responses/{first}") as r:
        assert r.status == 503
    # Everything else keeps working: a first turn (not kept, said in the log), chat, the status page.
    async with one.post("/v1/responses", json={"model": "llama/q", "input": "hi", "stream": True}) as r:
        assert r.status == 200 and "response.completed" in await r.text()
    chat = {"model": "llama/q", "messages": [{"role": "user", "content": "hi"}]}
    async with one.post("/v1/chat/completions", json=chat) as r:
        assert r.status == 200
    async with one.get("/metrics") as r:
        metrics = await r.text()
    assert 'proxyd_store_errors_total{operation="get"} 2.0' in metrics
    assert 'proxyd_store_errors_total{operation="put"} 1.0' in metrics
    async with one.get("/status") as r:
        store = (await r.json())["store"]
    assert store["ok"] is False and PASSWORD not in repr(store)
    redis.restart()
    async with one.post("/v1/responses", json={"model": "llama/q", "input": "back"}) as r:
        again = (await r.json())["id"]
    async with one.post("/v1/responses", json={**follow_up, "previous_response_id": again}) as r:
        assert r.status == 200
