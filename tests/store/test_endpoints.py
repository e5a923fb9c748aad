"""Translated responses kept by proxyd: retrieve, input items, delete, previous_response_id."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from proxyd.config.settings import Store
from proxyd.store.records import STORE
from proxyd.store.sqlite import SQLiteStore
from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.echo import chat_server

ProxyFactory = Callable[..., Awaitable[ProxyClient]]


@pytest.fixture
async def client(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = chat_server
    return await proxy_factory({"providers": [{"name": "llama", "base_url": upstream.base_url, "wire": "chat"}]})


@pytest.fixture
def sdk(client: ProxyClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{client.origin}/v1", api_key="x", max_retries=0, _strict_response_validation=True
    )


async def test_previous_response_id_rebuilds_the_conversation(sdk: openai.AsyncOpenAI, upstream: FakeUpstream) -> None:
    first = await sdk.responses.create(model="llama/q", input="hi", instructions="be brief")
    second = await sdk.responses.create(model="llama/q", input="and again", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert upstream.last.json()["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello! You said: hi"},
        {"role": "user", "content": "and again"},
    ]  # instructions are not carried over, as on OpenAI
    third = await sdk.responses.create(model="llama/q", input="third", previous_response_id=second.id, stream=True)
    events = [e async for e in third]
    assert events[-1].type == "response.completed"
    assert [m["content"] for m in upstream.last.json()["messages"]][::2] == ["hi", "and again", "third"]


async def test_retrieve_list_input_items_and_delete(sdk: openai.AsyncOpenAI) -> None:
    created = await sdk.responses.create(
        model="llama/q", input=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    )
    fetched = await sdk.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == created.output_text
    items = [item async for item in sdk.responses.input_items.list(created.id, order="asc")]
    assert [item.content[0].text for item in items] == ["one", "two"]  # type: ignore[union-attr]
    page = await sdk.responses.input_items.list(created.id, limit=1)
    assert page.has_more and page.data[0].content[0].text == "two"  # type: ignore[union-attr]
    await sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError, match="no response"):
        await sdk.responses.retrieve(created.id)


async def test_store_false_is_not_kept_and_unknown_ids_are_404(sdk: openai.AsyncOpenAI) -> None:
    created = await sdk.responses.create(model="llama/q", input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as info:
        await sdk.responses.create(model="llama/q", input="x", previous_response_id="resp_nope")
    assert info.value.body["param"] == "previous_response_id"  # type: ignore[index]


async def test_head_responses_answers_for_codex_doctor(client: ProxyClient) -> None:
    resp = await client.request("HEAD", "/v1/responses")
    assert resp.status == 200 and resp.headers["Allow"] == "POST"


async def test_records_keep_their_owner_and_an_older_file_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)  # a file as an older proxyd left it: no owner column, one record
    old.execute("CREATE TABLE responses (id TEXT PRIMARY KEY, created_at REAL NOT NULL, size INTEGER NOT NULL, "
                "input TEXT NOT NULL, response TEXT NOT NULL)")  # fmt: skip
    old.execute("INSERT INTO responses VALUES ('resp_old', 1e12, 2, '[]', '{\"id\": \"resp_old\"}')")
    old.commit()
    old.close()
    store = SQLiteStore(path, Store())
    await store.open()
    try:
        await store.put([], {"id": "resp_a", "output": []}, owner="alice")
        kept, older = await store.get("resp_a"), await store.get("resp_old")
        assert kept is not None and kept.owner == "alice"
        assert older is not None and older.owner == "default"
    finally:
        await store.close()


async def test_store_is_bounded_by_age_and_size(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", Store(max_mb=0.01, max_age_days=1))
    await store.open()
    try:
        for i in range(5):
            await store.put(
                [{"type": "message", "role": "user", "content": "x" * 3000}], {"id": f"resp_{i}", "output": []}
            )
        kept = [i for i in range(5) if await store.get(f"resp_{i}") is not None]
        assert kept[-1] == 4 and kept == list(range(5 - len(kept), 5)) and len(kept) < 5  # the oldest went first
        assert oct((tmp_path / "s.sqlite3").stat().st_mode)[-3:] == "600"
    finally:
        await store.close()
    now = [1_000_000.0]
    aged = SQLiteStore(tmp_path / "a.sqlite3", Store(max_age_days=0.00001), clock=lambda: now[0])  # about a second
    await aged.open()
    try:
        await aged.put([], {"id": "resp_old", "output": []})
        now[0] += 1.1
        await aged.put([], {"id": "resp_new", "output": []})
        assert await aged.get("resp_old") is None and await aged.get("resp_new") is not None
    finally:
        await aged.close()


async def test_puts_at_once_are_all_kept_and_share_commits(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", Store())
    await store.open()
    commits = 0
    real = store._write

    def counting(batch: list[tuple[list[dict[str, Any]], dict[str, Any]]]) -> None:
        nonlocal commits
        commits += 1
        real(batch)

    store._write = counting  # type: ignore[method-assign]
    try:
        await asyncio.gather(*(store.put([], {"id": f"resp_{i}", "output": []}) for i in range(50)))
        assert all([await store.get(f"resp_{i}") is not None for i in range(50)])
        assert 1 <= commits < 50  # puts that came while a write ran went together in the next
    finally:
        await store.close()


async def test_a_stream_says_completed_only_once_its_response_is_stored(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Codex sends previous_response_id the moment it reads response.completed, and under
    ``--workers`` that request may reach another worker: the record must be on disk by then,
    even when the disk is slow."""
    upstream.handler = chat_server
    shared = {"path": str(tmp_path / "shared.sqlite3")}
    raw = {"providers": [{"name": "llama", "base_url": upstream.base_url, "wire": "chat"}], "store": shared}
    one, two = await proxy_factory(raw), await proxy_factory(raw)  # two workers, one store file
    store = one.app[STORE]
    assert store is not None
    real = store._write

    def slow(batch: list[tuple[list[dict[str, Any]], dict[str, Any]]]) -> None:
        time.sleep(0.3)
        real(batch)

    store._write = slow  # type: ignore[method-assign]
    async with one.post("/v1/responses", json={"model": "llama/q", "input": "hi", "stream": True}) as resp:
        async for line in resp.content:
            if line.startswith(b"data: ") and b'"response.completed"' in line:
                response_id = json.loads(line[6:])["response"]["id"]
                break
        else:
            raise AssertionError("no response.completed")
        async with two.get(f"/v1/responses/{response_id}") as fetched:
            assert fetched.status == 200, await fetched.text()


async def test_a_failing_store_does_not_break_the_answer(client: ProxyClient) -> None:
    store = client.app[STORE]
    assert store is not None

    def broken(batch: list[tuple[list[dict[str, Any]], dict[str, Any]]]) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    store._write = broken  # type: ignore[method-assign]
    async with client.post("/v1/responses", json={"model": "llama/q", "input": "hi", "stream": True}) as resp:
        text = await resp.text()
    assert "event: response.completed" in text and text.endswith("data: [DONE]\n\n")
    async with client.post("/v1/responses", json={"model": "llama/q", "input": "hi"}) as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "completed"
