"""Prompt caches kept warm across wires: Anthropic's cache breakpoints pass untouched on its own
wire, keep their places through a chat provider that honours them (OpenRouter, LiteLLM) and
leave for one that does not, and a chat or Responses client's requests to an Anthropic provider
get breakpoints where they pay, never past the API's four (its fake refuses a fifth, as it does).
Through the real SDKs and Claude Code."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from proxyd.wires.anthropic.caching import LIMIT, marks, place_breakpoints
from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.anthropic import anthropic_server
from tests.fakes.echo import SERVERS, chat_server
from tests.test_claude_code import chat_only, run_claude

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
MARK = {"type": "ephemeral"}
TOOLS: Any = [{"name": "exec_command", "description": "run",
               "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}}}]  # fmt: skip
CHAT_TOOLS: Any = [{"type": "function", "function": {"name": "exec_command", "parameters": TOOLS[0]["input_schema"]}}]


def marked_parts(body: dict[str, Any]) -> list[str]:
    """Where a chat body carries breakpoints: "role:text" of each marked part."""
    return [f"{m['role']}:{p.get('text')}" for m in body["messages"] if isinstance(m.get("content"), list)
            for p in m["content"] if p.get("cache_control")]  # fmt: skip


async def test_anthropics_own_wire_passes_the_breakpoints_byte_for_byte(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    upstream.handler = anthropic_server
    client = await proxy_factory({"providers": [{"name": "claude", "base_url": upstream.base_url, "wire": "anthropic",
                                                 "api_key": "sk-ant-test", "models": ["claude-x"]}]})  # fmt: skip
    body = {"model": "claude-x", "max_tokens": 50, "tools": [{**TOOLS[0], "cache_control": MARK}],
            "system": [{"type": "text", "text": "You are terse.", "cache_control": MARK}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": MARK}]}]}  # fmt: skip
    raw = json.dumps(body, indent=1).encode()  # as a client wrote it, spaces and all
    resp = await client.post("/v1/messages", data=raw,
                             headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})  # fmt: skip
    assert resp.status == 200, await resp.text()
    assert upstream.last.body == raw  # the client's own bytes


async def chat_proxy(proxy_factory: ProxyFactory, upstream: FakeUpstream, **compat: str) -> ProxyClient:
    upstream.handler = chat_server
    provider = {
        "name": "router",
        "base_url": upstream.base_url,
        "wire": "chat",
        "models": [{"id": "m", "alias": "claude-*"}],
    }
    if compat:
        provider["compat"] = compat
    return await proxy_factory({"providers": [provider]})


@pytest.mark.parametrize("keep", [True, False], ids=["openrouter-style", "plain chat server"])
async def test_an_anthropic_client_to_a_chat_provider(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, keep: bool
) -> None:
    client = await chat_proxy(proxy_factory, upstream, **({"cache_control": "keep"} if keep else {}))
    sdk = anthropic.AsyncAnthropic(base_url=client.origin, api_key="x", max_retries=0)
    await sdk.messages.create(
        model="claude-x", max_tokens=50,
        system=[{"type": "text", "text": "You are terse.", "cache_control": MARK}, {"type": "text", "text": "Be kind."}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": MARK}]}],
    )  # fmt: skip
    sent = upstream.last.json()
    if keep:  # OpenRouter's form: the breakpoints on the parts they marked
        assert marked_parts(sent) == ["system:You are terse.", "user:hi"]
        assert sent["messages"][0]["content"][1] == {"type": "text", "text": "Be kind."}
    else:  # as before: text, and not a trace of the breakpoints
        assert "cache_control" not in upstream.last.body.decode()
        assert sent["messages"][0] == {"role": "system", "content": "You are terse.\n\nBe kind."}
        assert sent["messages"][1] == {"role": "user", "content": "hi"}


async def anthropic_proxy(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = anthropic_server
    return await proxy_factory({"providers": [{"name": "claude", "base_url": upstream.base_url, "wire": "anthropic",
                                               "api_key": "sk-ant-test"}]})  # fmt: skip


async def test_a_chat_client_to_an_anthropic_provider_gets_breakpoints_where_they_pay(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    client = await anthropic_proxy(proxy_factory, upstream)
    sdk = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)
    messages: Any = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"},
                     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "again"}]  # fmt: skip
    await sdk.chat.completions.create(model="claude/claude-x", messages=messages, tools=CHAT_TOOLS)
    sent = upstream.last.json()
    assert sent["tools"][-1]["cache_control"] == MARK
    assert sent["system"] == [{"type": "text", "text": "You are terse.", "cache_control": MARK}]
    assert sent["messages"][-1]["content"][-1] == {"type": "text", "text": "again", "cache_control": MARK}
    assert marks(sent) == 3 and "cache_control" not in json.dumps(sent["messages"][:-1])


async def test_a_clients_own_breakpoints_count_and_are_never_doubled(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    """A chat client that marks parts itself (OpenRouter's form): its marks stay, proxyd adds
    only up to the API's four, and the strict fake (which refuses a fifth) takes every request."""
    client = await anthropic_proxy(proxy_factory, upstream)
    parts = [{"type": "text", "text": f"part {i}", "cache_control": MARK} for i in range(3)]
    body = {"model": "claude/claude-x", "tools": CHAT_TOOLS,
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": parts}]}  # fmt: skip
    resp = await client.post("/v1/chat/completions", json=body)
    assert resp.status == 200, await resp.text()
    sent = upstream.last.json()
    assert marks(sent) == LIMIT and sent["tools"][-1]["cache_control"] == MARK  # the one that fit: the tools
    assert "cache_control" not in json.dumps(sent["system"])
    body["messages"][1]["content"] = [*parts, {"type": "text", "text": "part 3", "cache_control": MARK}]
    resp = await client.post("/v1/chat/completions", json=body)
    assert resp.status == 200 and marks(upstream.last.json()) == LIMIT  # four of its own: none added


async def test_a_responses_client_to_an_anthropic_provider(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await anthropic_proxy(proxy_factory, upstream)
    sdk = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)
    await sdk.responses.create(model="claude/claude-x", instructions="You are terse.", input="hi", store=False)
    sent = upstream.last.json()
    assert sent["system"][-1]["cache_control"] == MARK and sent["messages"][-1]["content"][-1]["cache_control"] == MARK


async def test_prompt_cache_off_sends_it_as_translated(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    upstream.handler = anthropic_server
    client = await proxy_factory({"providers": [{"name": "claude", "base_url": upstream.base_url, "wire": "anthropic",
                                                 "api_key": "sk-ant-test", "prompt_cache": "off"}]})  # fmt: skip
    sdk = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)
    await sdk.chat.completions.create(model="claude/claude-x", messages=[{"role": "user", "content": "hi"}])
    assert "cache_control" not in upstream.last.body.decode()


async def test_claude_codes_own_breakpoints_reach_an_openrouter_style_provider(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.handler = chat_only
    client = await proxy_factory({"providers": [{"name": "router", "base_url": upstream.base_url, "wire": "chat",
                                                 "compat": {"cache_control": "keep"},
                                                 "models": [{"id": "qwen3-coder", "alias": "claude-*"}]}]})  # fmt: skip
    await run_claude(client.origin, tmp_path)
    turns = [s.json() for s in upstream.seen if s.path.endswith("/chat/completions") and b"Bash" in s.body]
    assert turns and all(marked_parts(t) for t in turns)  # Claude Code marks its prompt; the marks arrive
    assert all(len(marked_parts(t)) <= LIMIT for t in turns)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, 1),  # nothing but a turn: the turn
        ({"system": "s", "tools": [{"name": "t"}], "messages": [{"role": "user", "content": "hi"}]}, 3),
        ({"system": [{"type": "text", "text": "s", "cache_control": MARK}], "messages": [
            {"role": "assistant", "content": [{"type": "text", "text": "a"},
                                              {"type": "thinking", "thinking": "t", "signature": "x"}]}]}, 2),
        ({"tools": [{"name": "t"}], "messages": [{"role": "user", "content": [
            {"type": "text", "text": str(i), "cache_control": MARK} for i in range(4)]}]}, 4),  # full: none added
    ],
)  # fmt: skip
def test_place_breakpoints(body: dict[str, Any], expected: int) -> None:
    placed = place_breakpoints(body) or body
    assert marks(placed) == expected
    for message in placed["messages"]:  # never on a thinking block
        for block in message["content"] if isinstance(message["content"], list) else []:
            assert not (block.get("type") == "thinking" and block.get("cache_control"))


def test_every_wire_has_a_fake_that_refuses_a_fifth_breakpoint() -> None:
    assert set(SERVERS) == {"chat", "responses", "anthropic"}


@pytest.mark.parametrize("keep", [True, False], ids=["openai-style", "other chat server"])
async def test_a_conversations_cache_key_reaches_an_openai_style_provider(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, keep: bool
) -> None:
    """Codex's prompt_cache_key and Claude Code's session (hashed) go on as prompt_cache_key to
    servers that route it to one cache (OpenAI's, Azure's, OpenRouter's), and to no other."""
    client = await chat_proxy(proxy_factory, upstream, **({"prompt_cache_key": "keep"} if keep else {}))
    codex = openai.AsyncOpenAI(base_url=f"{client.origin}/v1", api_key="x", max_retries=0)
    await codex.responses.create(model="claude-x", input="hi", prompt_cache_key="conv-42", store=False)
    assert upstream.last.json().get("prompt_cache_key") == ("conv-42" if keep else None)
    claude = anthropic.AsyncAnthropic(base_url=client.origin, api_key="x", max_retries=0)
    for _ in range(2):
        await claude.messages.create(model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}],
                                     metadata={"user_id": "user_ab_account_cd_session_ef"})  # fmt: skip
    keys = [s.json().get("prompt_cache_key") for s in upstream.seen[-2:]]
    if keep:
        assert keys[0] == keys[1] and keys[0].startswith("proxyd-") and "session" not in keys[0]
    else:
        assert keys == [None, None]
