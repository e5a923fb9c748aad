"""proxyd run for a team, on one machine with real processes: two ``proxyd serve`` instances,
a real redis-server as their shared store, and HAProxy in front with deploy/haproxy.cfg itself
(only the addresses changed to loopback ports). Every request below goes through HAProxy."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream
from tests.daemons import Daemon, free_port, haproxy, redis_server
from tests.fakes.echo import answer_chat, chat_server, chunk
from tests.helpers import WAIT, eventually
from tests.test_reload import Daemon as Serving
from tests.test_reload import serve

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
TOKENS = {"alice": "alice-team-token-0123456789", "bob": "bob-team-token-0123456789"}
REDIS_PASSWORD = "team-redis-password-0123"
SLOW_PIECES = 60  # 6 s: past the drain's delay and into the socket's close
BOB = {"Authorization": f"Bearer {TOKENS['bob']}"}
ALICE = {"Authorization": f"Bearer {TOKENS['alice']}"}
ROLES = {"alice": "client", "bob": "viewer"}


@dataclass
class Team:
    lb: str
    instances: dict[str, Serving]  # by HAProxy's server name
    redis: Daemon
    session: aiohttp.ClientSession

    def other(self, name: str) -> Serving:
        return next(i for n, i in self.instances.items() if n != name)

    def post(self, path: str, body: dict[str, Any], who: str = "alice") -> Any:
        return self.session.post(self.lb + path, json=body, headers={"Authorization": f"Bearer {TOKENS[who]}"})


async def slow_or_chat(request: web.Request) -> web.StreamResponse:
    """The strict fake chat server; a conversation saying "slow" streams for six seconds."""
    if not request.path.endswith("/chat/completions"):
        return await chat_server(request)
    chat = await request.json()
    if chat["messages"][-1].get("content") != "slow" or not chat.get("stream"):
        return await answer_chat(request, chat)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(chunk({"role": "assistant", "content": ""}))
    for i in range(SLOW_PIECES):
        await resp.write(chunk({"content": f"{i} "}))
        await asyncio.sleep(0.1)
    await resp.write(chunk({}, "stop") + b"data: [DONE]\n\n")
    return resp


def team_config(tmp_path: Path, upstream: FakeUpstream, redis: Daemon) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, token in TOKENS.items():
        (secrets / f"{name}.token").write_text(token + "\n")
    (secrets / "redis.url").write_text(f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}/0\n")
    config = {
        # alice is a client (the API only); bob a viewer, who also reads /status and /metrics
        "listen": {
            "tokens": [{"name": n, "token_file": str(secrets / f"{n}.token"), "role": ROLES[n]} for n in TOKENS]
        },
        "store": {"url_file": str(secrets / "redis.url")},
        "health": {"interval_s": 0},
        "shutdown_grace_s": 20,
        "shutdown_delay_s": 2.5,  # HAProxy checks every second and needs two failures
        "providers": [{"name": "llama", "base_url": upstream.base_url, "wire": "chat"}],
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def balancer_config(tmp_path: Path, lb_port: int, ports: dict[str, int]) -> Path:
    """deploy/haproxy.cfg with loopback addresses for the instances and the front."""
    text = (DEPLOY / "haproxy.cfg").read_text()
    swaps = {"bind :8787": f"bind 127.0.0.1:{lb_port}"} | {f"{n}:8787": f"127.0.0.1:{p}" for n, p in ports.items()}
    for old, new in swaps.items():
        assert old in text, f"deploy/haproxy.cfg no longer has {old!r}"
        text = text.replace(old, new)
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    return path


@pytest.fixture
async def team(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[Team]:
    upstream.handler = slow_or_chat
    redis = redis_server(tmp_path, password=REDIS_PASSWORD)
    config = team_config(tmp_path, upstream, redis)
    ports = {"proxyd-1": free_port(), "proxyd-2": free_port()}
    instances: dict[str, Serving] = {}
    balancer: Daemon | None = None
    session = aiohttp.ClientSession()
    try:
        for name, port in ports.items():
            instances[name] = await serve(config, "--port", str(port))
        lb_port = free_port()
        balancer = haproxy(balancer_config(tmp_path, lb_port, ports), lb_port)
        team = Team(f"http://127.0.0.1:{lb_port}", instances, redis, session)
        await eventually(lambda: both_serving(team), "HAProxy to send requests to both instances")
        yield team
    finally:
        await session.close()
        if balancer is not None:
            balancer.stop()
        for instance in instances.values():
            await instance.stop()
        redis.stop()


async def both_serving(team: Team) -> bool:
    seen = set()
    for _ in range(4):
        async with team.session.get(team.lb + "/readyz") as resp:
            if resp.status == 200:
                seen.add(resp.headers.get("X-Proxyd-Instance"))
    return seen == set(team.instances)


async def test_a_conversation_keeps_its_history_across_instances(team: Team, upstream: FakeUpstream) -> None:
    sdk = openai.AsyncOpenAI(base_url=team.lb + "/v1", api_key=TOKENS["alice"], max_retries=0)
    landed, previous = [], None
    for i in range(4):
        raw = await sdk.responses.with_raw_response.create(
            model="llama/q", input=f"turn {i}", previous_response_id=previous or openai.NOT_GIVEN
        )
        landed.append(raw.headers["x-proxyd-instance"])
        previous = raw.parse().id
    assert all(a != b for a, b in pairwise(landed)), landed  # they alternate
    said = [m["content"] for m in upstream.last.json()["messages"]]
    assert said == ["turn 0", "Hello! You said: turn 0", "turn 1", "Hello! You said: turn 1",
                    "turn 2", "Hello! You said: turn 2", "turn 3"]  # fmt: skip
    # A streamed turn: the other instance reads its record the moment response.completed arrives,
    # before the stream has even ended. It is alice's: to bob, another client, it does not exist.
    headers = ALICE
    async with team.post("/v1/responses", {"model": "llama/q", "input": "streamed", "stream": True}) as resp:
        served_by = resp.headers["X-Proxyd-Instance"]
        other = team.other(served_by)
        async for line in resp.content:
            if b'"response.completed"' in line:
                response_id = json.loads(line[6:])["response"]["id"]
                async with team.session.get(f"{other.origin}/v1/responses/{response_id}", headers=headers) as got:
                    record = await got.json()
                break
    assert record["output"][0]["content"][0]["text"] == "Hello! You said: streamed"
    for method in ("GET", "DELETE"):
        async with team.session.request(method, f"{other.origin}/v1/responses/{response_id}", headers=BOB) as resp:
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "response_not_found"
    async with team.post("/v1/responses", {"model": "llama/q", "input": "x", "previous_response_id": response_id},
                         who="bob") as resp:  # fmt: skip
        assert resp.status == 404 and (await resp.json())["error"]["param"] == "previous_response_id"
    async with team.session.delete(f"{other.origin}/v1/responses/{response_id}", headers=headers) as resp:
        assert (await resp.json())["deleted"] is True
    origin = team.instances[served_by].origin
    async with team.session.get(f"{origin}/v1/responses/{response_id}", headers=headers) as resp:
        assert resp.status == 404


async def test_an_instance_stopped_mid_stream_finishes_it_while_the_other_takes_new_requests(team: Team) -> None:
    chat = {"model": "llama/q", "messages": [{"role": "user", "content": "hi"}]}
    async with team.post("/v1/chat/completions", {"model": "llama/q", "stream": True,
                                                   "messages": [{"role": "user", "content": "slow"}]}) as stream:  # fmt: skip
        stopping_name = stream.headers["X-Proxyd-Instance"]
        stopping = team.instances[stopping_name]
        first = await stream.content.readline()
        assert first.startswith(b"data: ")
        stopping.proc.send_signal(signal.SIGTERM)
        await eventually(lambda: logged(stopping, "stopping_soon"), "the instance to start its drain")
        # shutdown_delay_s: it says it is not ready, and still serves, until HAProxy has seen that.
        async with team.session.get(stopping.origin + "/readyz") as resp:
            assert resp.status == 503
        async with team.session.post(stopping.origin + "/v1/chat/completions", json=chat, headers=BOB) as resp:
            assert resp.status == 200
        landed = []
        while not await logged(stopping, "stopping"):  # through HAProxy, none fails meanwhile
            async with team.post("/v1/chat/completions", chat, who="bob") as resp:
                assert resp.status == 200, await resp.text()
                landed.append(resp.headers["X-Proxyd-Instance"])
            await asyncio.sleep(0.05)
        assert landed[-1] != stopping_name, landed  # taken out by its 503s before it closed its port
        for _ in range(6):  # new requests go to the other instance
            async with team.post("/v1/chat/completions", chat, who="bob") as resp:
                assert resp.status == 200 and resp.headers["X-Proxyd-Instance"] != stopping_name
        rest = await stream.read()
    pieces = [json.loads(line[6:]) for line in (first + rest).split(b"\n") if line.startswith(b"data: {")]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in pieces if p["choices"])
    assert text == "".join(f"{i} " for i in range(SLOW_PIECES)) and rest.endswith(b"data: [DONE]\n\n")
    assert await asyncio.wait_for(stopping.proc.wait(), WAIT) == 0
    assert [e.get("cut") for e in stopping.events if e.get("event") == "stopped"] == [0]  # none was cut


async def test_the_store_killed_and_restarted_is_reconnected(team: Team) -> None:
    async with team.post("/v1/responses", {"model": "llama/q", "input": "hi"}) as resp:
        first = (await resp.json())["id"]
    team.redis.kill()
    for _ in range(2):  # on both instances: a clear 503 naming the store, never its password
        async with team.post(
            "/v1/responses", {"model": "llama/q", "input": "more", "previous_response_id": first}
        ) as r:
            assert r.status == 503
            message = (await r.json())["error"]["message"]
            assert f"redis://127.0.0.1:{team.redis.port}/0 is not answering" in message
            assert REDIS_PASSWORD not in message
    async with team.post(
        "/v1/chat/completions", {"model": "llama/q", "messages": [{"role": "user", "content": "x"}]}
    ) as r:
        assert r.status == 200  # everything else keeps working
    team.redis.restart()
    kept_by, continued_by = set(), set()
    for _ in range(2):  # each instance reconnects by itself: both keep turns and read them
        async with team.post("/v1/responses", {"model": "llama/q", "input": "again"}) as resp:
            start = (await resp.json())["id"]
            kept_by.add(resp.headers["X-Proxyd-Instance"])
        async with team.post("/v1/responses", {"model": "llama/q", "input": "on", "previous_response_id": start}) as r:
            assert r.status == 200, await r.text()
            continued_by.add(r.headers["X-Proxyd-Instance"])
        await team.session.get(team.lb + "/readyz")  # the next pair lands the other way round
    assert kept_by == continued_by == set(team.instances)


async def test_two_tokens_are_two_clients_and_a_third_is_refused(team: Team) -> None:
    chat = {"model": "llama/q", "messages": [{"role": "user", "content": "hi"}]}
    for who in ("alice", "alice", "alice", "bob"):
        async with team.post("/v1/chat/completions", chat, who=who) as resp:
            assert resp.status == 200
    async with team.session.post(team.lb + "/v1/chat/completions", json=chat,
                                 headers={"Authorization": "Bearer a-third-token-000000"}) as resp:  # fmt: skip
        assert resp.status == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="proxyd"'
    counted = {"alice": 0.0, "bob": 0.0}
    for instance in team.instances.values():
        headers = {"Authorization": f"Bearer {TOKENS['bob']}"}
        async with team.session.get(instance.origin + "/metrics", headers=headers) as resp:
            text = await resp.text()
        for line in text.splitlines():
            if line.startswith("proxyd_requests_total{") and 'status="200"' in line:
                who = line.split('client="', 1)[1].split('"', 1)[0]
                counted[who] += float(line.rsplit(" ", 1)[1])
        assert "a-third" not in text
    assert counted == {"alice": 3.0, "bob": 1.0}
    lines = [e for i in team.instances.values() for e in i.events if e.get("event") == "request"]
    assert sorted(e["client"] for e in lines) == ["alice", "alice", "alice", "bob"]


async def logged(instance: Serving, event: str) -> bool:
    return any(e.get("event") == event for e in instance.events)
