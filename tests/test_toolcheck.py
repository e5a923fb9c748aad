"""Tool calls checked on the request path: every client wire, every provider wire, streamed and
whole, with and without repair, against fake servers as strict as the APIs they stand for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes import scripted as servers
from tests.fakes.scripted import SERVERS
from tests.toolcalls.clients import ENDPOINTS, HEADERS, read_answer, request_for
from tests.toolcalls.shapes import BAD_CALLS, IN_TEXT, BadCall, InText

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
WIRES = ("chat", "responses", "anthropic")


@pytest.fixture
async def proxy(proxy_factory: ProxyFactory, upstream_factory: Callable[[], Awaitable[FakeUpstream]]) -> ProxyClient:
    """For each wire, a provider as it is (``chat``...) and one with repair on (``chat-fix``...)."""
    providers = []
    for wire, server in SERVERS.items():
        up = await upstream_factory()
        up.handler = server
        base = {"base_url": up.base_url, "wire": wire, "models": ["m"]}
        providers += [{"name": wire, **base}, {"name": f"{wire}-fix", **base, "tool_calls": {"repair": True}}]
    return await proxy_factory({"providers": providers})


async def ask(proxy: ProxyClient, client: str, provider: str, said: str, stream: bool, **kw: Any) -> tuple[bytes, dict]:
    body = request_for(client, f"{provider}/m", said, stream, **kw)
    async with proxy.post(ENDPOINTS[client], json=body, headers=HEADERS.get(client, {})) as resp:
        raw = await resp.read()
        assert resp.status == 200, raw[:500]
    return raw, read_answer(client, raw, stream)


def parsed(calls: list[tuple[str, str]]) -> list[tuple[str, object]]:
    return [(name, json.loads(arguments)) for name, arguments in calls]


async def metric(proxy: ProxyClient, **labels: str) -> float:
    text = await (await proxy.get("/metrics")).text()
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "proxyd_tool_calls_total" and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", WIRES)
@pytest.mark.parametrize("shape", IN_TEXT, ids=[s.id for s in IN_TEXT])
async def test_calls_in_text_become_tool_calls_of_the_clients_wire(
    proxy: ProxyClient, shape: InText, client: str, stream: bool
) -> None:
    _, answer = await ask(proxy, client, "chat-fix", f"text:{shape.id}", stream)
    assert parsed(answer["calls"]) == list(shape.calls), shape.source
    assert answer["text"].strip() == shape.rest
    assert answer["finish"] in ("tool_calls", "tool_use", "completed")
    assert len(set(answer["ids"])) == len(shape.calls)
    assert await metric(proxy, provider="chat-fix", model="m", result="repaired") == len(shape.calls)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", WIRES)
async def test_calls_in_text_without_repair_are_flagged_not_changed(
    proxy: ProxyClient, client: str, stream: bool
) -> None:
    shape = IN_TEXT[0]
    _, answer = await ask(proxy, client, "chat", f"text:{shape.id}", stream)
    assert answer["calls"] == [] and answer["text"] == shape.text
    assert await metric(proxy, provider="chat", model="m", result="in_text") == 1
    status = await (await proxy.get("/status")).json()
    report = next(p for p in status["providers"] if p["name"] == "chat")["tool_calls"]["m"]
    assert report["verdict"] == "in_text" and "--tool-call-parser hermes" in report["fix"]


REPAIRABLE = [c for c in BAD_CALLS if c.fixed is not None]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("client", "provider"), [("chat", "chat"), ("anthropic", "anthropic"), ("responses", "chat"),
                                                  ("chat", "anthropic"), ("anthropic", "responses")])  # fmt: skip
@pytest.mark.parametrize("case", REPAIRABLE, ids=[c.id for c in REPAIRABLE])
async def test_almost_right_calls_are_repaired(
    proxy: ProxyClient, case: BadCall, client: str, provider: str, stream: bool
) -> None:
    if provider == "anthropic" and not stream and case.result == "schema_mismatch" and case.id == "double_encoded":
        pytest.skip("a whole Anthropic message carries input as an object: a double-encoded one cannot come")
    _, answer = await ask(proxy, client, f"{provider}-fix", f"call:{case.id}", stream)
    assert parsed(answer["calls"]) == [case.fixed]
    _, plain = await ask(proxy, client, provider, f"call:{case.id}", stream)
    assert [name for name, _ in plain["calls"]] == [case.name]
    # A whole Anthropic message holds input as an object; a server passing the model's text on sends a string.
    whole_anthropic = provider == "anthropic" and not stream and case.result == "invalid_json"
    result = "schema_mismatch" if whole_anthropic else case.result
    assert await metric(proxy, provider=provider, model="m", result=result) == 1
    assert await metric(proxy, provider=f"{provider}-fix", model="m", result="repaired") == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("wire", WIRES)
async def test_a_valid_call_passes_byte_for_byte_with_repair_off(proxy: ProxyClient, wire: str, stream: bool) -> None:
    raw, answer = await ask(proxy, wire, wire, "call:ok", stream)
    assert parsed(answer["calls"]) == [("get_weather", {"city": "Paris"})]
    script = servers.script_for("call:ok")  # the upstream's bytes, built again from the same script
    expected = {
        ("chat", False): lambda: json.dumps(servers.chat_completion("m", script)).encode(),
        ("chat", True): lambda: servers.chat_stream("m", script, True),
        ("responses", False): lambda: json.dumps(servers.response_object("m", script)).encode(),
        ("responses", True): lambda: servers.responses_stream("m", script),
        ("anthropic", False): lambda: json.dumps(servers.anthropic_message("m", script)).encode(),
        ("anthropic", True): lambda: servers.anthropic_stream("m", script),
    }[(wire, stream)]()
    assert raw == expected
    assert await metric(proxy, provider=wire, model="m", result="ok") == 1


async def test_a_stateful_wire_is_checked_but_never_rewritten(proxy: ProxyClient) -> None:
    """A Responses provider's answers name ids in its own store: repair must not replace them."""
    raw, answer = await ask(proxy, "responses", "responses-fix", "call:single_quotes", True)
    assert answer["calls"] == [("read_file", "{'path': '/Users/me/src/store/search.constant.js'}")]
    assert b'"id": "resp_up"' in raw
    assert await metric(proxy, provider="responses-fix", model="m", result="invalid_json") == 1


async def test_requests_without_tools_are_not_checked(proxy: ProxyClient) -> None:
    with structlog.testing.capture_logs() as logs:
        for client in WIRES:
            await ask(proxy, client, "chat-fix", f"text:{IN_TEXT[0].id}", True, tools=False)
        await asyncio.sleep(0.05)
    lines = [e for e in logs if e["event"] == "request"]
    assert len(lines) == 3 and not any("tool_calls" in line for line in lines)
    assert await metric(proxy) == 0


async def test_access_line_and_problem_line(proxy: ProxyClient) -> None:
    with structlog.testing.capture_logs() as logs:
        await ask(proxy, "chat", "chat", "call:single_quotes", False)
        await ask(proxy, "chat", "chat", "plain", False)
        await asyncio.sleep(0.05)
    first, second = [e for e in logs if e["event"] == "request"]
    assert first["tool_calls"] == {"invalid_json": 1} and second["tool_calls"] == {}
    (problem,) = [e for e in logs if e["event"] == "tool_call_problem"]
    assert problem["tool"] == "read_file" and problem["result"] == "invalid_json" and problem["repaired"] is False
    assert "arguments_head" not in problem and problem["model"] == "m"  # one client's data: debug only
    (head,) = [e for e in logs if e["event"] == "tool_call_arguments"]
    assert head["log_level"] == "debug" and head["arguments_head"].startswith("{'path'")


async def test_model_label_is_never_raw_client_input(proxy: ProxyClient) -> None:
    body = request_for("chat", "chat/some-model-nobody-configured", "text:hermes", False)
    async with proxy.post(ENDPOINTS["chat"], json=body) as resp:
        assert resp.status == 200
    assert await metric(proxy, provider="chat", model="other", result="in_text") == 1


async def test_an_odd_answer_is_relayed_as_it_came_not_broken_by_the_check(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """A 200 whose output items are not objects: the checker cannot read it, the client still gets it."""
    odd = {"id": "resp_1", "object": "response", "status": "completed", "output": ["not an item"]}

    async def server(request: Any) -> Any:
        from aiohttp import web

        return web.json_response(odd)

    upstream.handler = server
    proxy = await proxy_factory({"providers": [{"name": "r", "base_url": upstream.base_url, "wire": "responses"}]})
    async with proxy.post(ENDPOINTS["responses"], json=request_for("responses", "r/m", "hi", False)) as resp:
        assert resp.status == 200 and await resp.json() == odd
