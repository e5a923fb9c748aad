"""Session affinity in model groups: every turn of a conversation on one target while it is
healthy (a prefix-caching server keeps the conversation's prefix), failover moving it on and
affinity following; the session key from the client when it names one, else from the opening of
the conversation; a bounded map (tables beside)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from aiohttp import web

from proxyd.affinity import MAX_SESSIONS, TTL_S, MemoryAffinity, RedisAffinity, pinned_first
from proxyd.config.settings import GroupTarget
from proxyd.session_key import session_key
from tests.conftest import FakeUpstream, ProxyClient
from tests.daemons import redis_server
from tests.fakes.echo import answer_chat

ProxyFactory = Callable[..., Awaitable[ProxyClient]]


def two_instances(failing: set[str]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Two servers behind one fake, told apart by their path; those in ``failing`` answer 503."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.split("/")[2] in failing:
            return web.json_response({"error": {"message": "overloaded", "type": "server_error"}}, status=503)
        return await answer_chat(request, await request.json())

    return handle


async def group_proxy(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, strategy: str = "weighted", failing: set[str] | None = None
) -> ProxyClient:
    upstream.handler = two_instances(failing if failing is not None else set())
    return await proxy_factory({
        "providers": [{"name": "a", "base_url": upstream.base_url + "/a/v1", "wire": "chat", "models": ["m"]},
                      {"name": "b", "base_url": upstream.base_url + "/b/v1", "wire": "chat", "models": ["m"]}],
        "groups": [{"alias": "pool", "strategy": strategy, "targets": ["a/m", "b/m"]}],
    })  # fmt: skip


def served_by(upstream: FakeUpstream) -> list[str]:
    """Which of the two answered each request, in order (the fake's path: /v1/<server>/v1/...)."""
    return [s.path.split("/")[2] for s in upstream.seen if s.path.endswith("/chat/completions")]


async def test_each_conversation_keeps_to_its_target(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await group_proxy(proxy_factory, upstream)
    sdk = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)
    for conversation in range(6):
        history: Any = [{"role": "system", "content": f"agent {conversation}"}, {"role": "user", "content": "start"}]
        before = len(served_by(upstream))
        for turn in range(5):
            said = await sdk.chat.completions.create(model="pool", messages=history)
            history += [{"role": "assistant", "content": said.choices[0].message.content},
                        {"role": "user", "content": f"turn {turn}"}]  # fmt: skip
        landed = served_by(upstream)[before:]
        assert len(set(landed)) == 1, landed  # every turn of this conversation on one target


async def test_a_named_session_keeps_to_its_target_and_follows_a_failover(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    failing: set[str] = set()
    client = await group_proxy(proxy_factory, upstream, strategy="ordered", failing=failing)
    sdk = anthropic.AsyncAnthropic(base_url=client.origin, api_key="x", max_retries=0)

    async def turn(said: str) -> None:
        await sdk.messages.create(model="pool", max_tokens=20, messages=[{"role": "user", "content": said}],
                                  metadata={"user_id": "user_1_account_2_session_3"})  # fmt: skip

    await turn("one")  # the group's order: a
    failing.add("a")
    await turn("two")  # a fails: the group fails over to b, and the session follows
    failing.clear()
    await turn("three")  # a answers again and is first in the group's order, but the session is on b
    await turn("four")
    assert served_by(upstream) == ["a", "a", "b", "b", "b"]  # without affinity, three and four went to a


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({"metadata": {"user_id": "user_x_account_y_session_z"}, "messages": []}, {}, "id:user_x_account_y_session_z"),
        ({"prompt_cache_key": "conv-1", "input": "hi"}, {}, "id:conv-1"),  # Codex
        ({"input": "hi"}, {"session_id": "0199-abc"}, "id:0199-abc"),  # Codex's header
        ({"messages": [{"role": "user", "content": "hi"}]}, {}, "hash:"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, {}, None),  # nothing to know it by
        (None, {}, None),
    ],
)  # fmt: skip
def test_session_key(body: dict[str, Any] | None, headers: dict[str, str], expected: str | None) -> None:
    found = session_key(body, headers)
    if expected == "hash:":  # the opening's hash: the text itself goes nowhere
        assert found is not None and found.startswith("hash:") and len(found) == len("hash:") + 32
    else:
        assert found == expected


def test_the_opening_decides_whatever_follows() -> None:
    first = {"system": "You are Claude.", "messages": [{"role": "user", "content": "hi"}]}
    later = {**first, "messages": [*first["messages"], {"role": "assistant", "content": "yo"},
                                   {"role": "user", "content": "more"}]}  # fmt: skip
    other = {**first, "messages": [{"role": "user", "content": "another task"}]}
    assert session_key(first, {}) == session_key(later, {}) != session_key(other, {})


async def test_the_map_is_bounded_and_forgets_after_its_ttl() -> None:
    clock = [0.0]
    memory = MemoryAffinity(clock=lambda: clock[0])
    for i in range(MAX_SESSIONS + 5):
        await memory.put("g", str(i), "a/m")
    assert await memory.get("g", "0") is None and await memory.get("g", str(MAX_SESSIONS + 4)) == "a/m"
    clock[0] += TTL_S + 1
    assert await memory.get("g", str(MAX_SESSIONS + 4)) is None


async def test_two_instances_agree_through_the_shared_store(tmp_path: Path) -> None:
    from redis.asyncio import Redis

    server = redis_server(tmp_path)
    try:
        one, two = (Redis.from_url(f"redis://127.0.0.1:{server.port}/0") for _ in range(2))
        await RedisAffinity(one).put("pool", "id:s", "b/m")
        assert await RedisAffinity(two).get("pool", "id:s") == "b/m"
        assert 0 < await two.ttl("{proxyd}:affinity:pool\tid:s") <= TTL_S
        await one.aclose()
        await two.aclose()
    finally:
        server.stop()
    assert await RedisAffinity(Redis.from_url(f"redis://127.0.0.1:{server.port}/0")).get("pool", "id:s") is None


def test_pinned_first() -> None:
    a, b, c = (GroupTarget(p, "m") for p in "abc")
    assert [t.provider for t in pinned_first([a, b, c], "c/m")] == ["c", "a", "b"]
    assert [t.provider for t in pinned_first([a, b], "c/m")] == ["a", "b"]  # resting or gone: the plan's order
