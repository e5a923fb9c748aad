"""Fitting requests to providers and models: tables for adapt_chat/adapt_responses, and the
wire through a real proxyd to a fake upstream."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from proxyd.config.settings import Compat, ModelEntry, Provider
from proxyd.errors import ProxyError
from proxyd.fitting import adapt_chat, adapt_responses
from tests.conftest import FakeUpstream, ProxyClient, make_config

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
PLAIN = Provider(name="p", base_url="http://127.0.0.1:9/v1")
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
PARTS = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]


def via(**compat: str) -> Provider:
    return dataclasses.replace(PLAIN, compat=Compat(**compat))  # type: ignore[arg-type]


def model(**fields: Any) -> ModelEntry:
    caps = fields.pop("caps", {})
    return ModelEntry(id="m", capabilities=tuple(caps.items()), **fields)


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


# (provider, model, body) -> the body sent (None: unchanged)
CHAT_CASES = [
    (PLAIN, None, chat(reasoning_effort="high", max_tokens=5), None),
    (via(developer_role="system"), None, chat(messages=[{"role": "developer", "content": "be brief"}]),
     chat(messages=[{"role": "system", "content": "be brief"}])),
    (via(developer_role="system"), None, chat(), None),
    (via(content="string"), None, chat(messages=[{"role": "user", "content": PARTS}]),
     chat(messages=[{"role": "user", "content": "one\ntwo"}])),
    (via(content="user-parts"), None,  # Groq: a system or assistant message takes a string only
     chat(messages=[{"role": "system", "content": PARTS}, {"role": "user", "content": [*PARTS, IMAGE]},
                    {"role": "assistant", "content": PARTS}]),
     chat(messages=[{"role": "system", "content": "one\ntwo"}, {"role": "user", "content": [*PARTS, IMAGE]},
                    {"role": "assistant", "content": "one\ntwo"}])),
    (via(content="user-parts"), None, chat(messages=[{"role": "user", "content": PARTS}]), None),
    (via(max_tokens_field="max_tokens"), None, chat(max_completion_tokens=50), chat(max_tokens=50)),
    (via(max_tokens_field="max_completion_tokens"), None, chat(max_tokens=50), chat(max_completion_tokens=50)),
    (via(max_tokens_field="max_tokens"), None, chat(max_tokens=7), None),
    (via(reasoning="openrouter"), None, chat(reasoning_effort="low"), chat(reasoning={"effort": "low"})),
    (via(reasoning="none"), None, chat(reasoning_effort="low"), chat()),
    (PLAIN, model(caps={"reasoning": False}), chat(reasoning_effort="low"), chat()),
    (PLAIN, model(reasoning_effort="medium"), chat(), chat(reasoning_effort="medium")),
    (PLAIN, model(reasoning_effort="medium"), chat(reasoning_effort="high"), None),
    (via(reasoning="openrouter"), model(reasoning_effort="high"), chat(), chat(reasoning={"effort": "high"})),
    (PLAIN, model(max_output_tokens=100), chat(max_tokens=4000), chat(max_tokens=100)),
    (PLAIN, model(max_output_tokens=100), chat(max_completion_tokens=80), None),
    (PLAIN, model(caps={"tools": True, "vision": True}), chat(tools=[{"type": "function"}]), None),
]  # fmt: skip


@pytest.mark.parametrize(("provider", "entry", "body", "sent"), CHAT_CASES)
def test_adapt_chat(provider: Provider, entry: ModelEntry | None, body: dict[str, Any], sent: Any) -> None:
    before = repr(body)
    assert adapt_chat(body, provider, entry)[0] == sent
    assert repr(body) == before  # the client's body is not changed in place


@pytest.mark.parametrize(
    ("provider", "entry", "body", "wanted"),
    [
        (PLAIN, model(caps={"tools": False}), chat(tools=[{"type": "function"}]), "has no tool support (capabilities.tools: false in proxyd"),
        (PLAIN, model(caps={"vision": False}), chat(messages=[{"role": "user", "content": [IMAGE]}]),
         "has no vision (capabilities.vision: false in proxyd"),
        (via(content="string"), None, chat(messages=[{"role": "user", "content": [*PARTS, IMAGE]}]),
         "takes text-only content in this message (compat.content: string)"),
        (via(content="user-parts"), None, chat(messages=[{"role": "system", "content": [IMAGE]}]),
         "takes text-only content in this message (compat.content: user-parts)"),
    ],
)  # fmt: skip
def test_what_cannot_be_sent_is_a_400_that_says_why(
    provider: Provider, entry: ModelEntry | None, body: dict[str, Any], wanted: str
) -> None:
    with pytest.raises(ProxyError) as info:
        adapt_chat(body, provider, entry)
    assert info.value.status == 400 and wanted in info.value.message


@pytest.mark.parametrize(
    ("entry", "body", "sent"),
    [
        (None, {"input": "hi", "reasoning": {"effort": "low"}}, None),
        (model(reasoning_effort="high"), {"input": "hi"}, {"input": "hi", "reasoning": {"effort": "high"}}),
        (model(caps={"reasoning": False}), {"input": "hi", "reasoning": {"effort": "low"}}, {"input": "hi"}),
        (model(max_output_tokens=10), {"input": "hi", "max_output_tokens": 99}, {"input": "hi", "max_output_tokens": 10}),
    ],
)  # fmt: skip
def test_adapt_responses(entry: ModelEntry | None, body: dict[str, Any], sent: Any) -> None:
    assert adapt_responses(body, PLAIN, entry)[0] == sent


def test_responses_images_to_a_model_without_vision() -> None:
    body = {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}]}
    with pytest.raises(ProxyError, match="has no vision"):
        adapt_responses(body, PLAIN, model(caps={"vision": False}))


async def test_through_proxyd(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    """Azure-style auth, the detected Ollama defaults, and a capability 400, on the wire."""
    base = upstream.base_url.replace("/v1", "")
    client = await proxy_factory({"providers": [
        {"name": "az", "base_url": upstream.base_url, "api_key": "k-azure-123456", "auth": "api-key"},
        {"name": "open", "base_url": upstream.base_url, "api_key": "k-none-123456", "auth": "none"},
        {"name": "old", "base_url": base + "/v1", "compat": {"developer_role": "system", "content": "string",
                                                            "max_tokens_field": "max_tokens", "reasoning": "none"},
         "models": [{"id": "tiny", "capabilities": {"tools": False}}]},
    ]})  # fmt: skip
    async with client.post("/v1/chat/completions", json=chat(model="az/m")) as resp:
        assert resp.status == 200
    assert upstream.last.headers.get("api-key") == "k-azure-123456" and "Authorization" not in upstream.last.headers
    async with client.post("/v1/chat/completions", json=chat(model="open/m")) as resp:
        assert resp.status == 200
    assert "Authorization" not in upstream.last.headers and "api-key" not in upstream.last.headers
    body = chat(model="old/m", messages=[{"role": "developer", "content": [{"type": "text", "text": "terse"}]}],
                max_completion_tokens=9, reasoning_effort="high")  # fmt: skip
    async with client.post("/v1/chat/completions", json=body) as resp:
        assert resp.status == 200
    assert upstream.last.json() == {"model": "m", "messages": [{"role": "system", "content": "terse"}], "max_tokens": 9}
    seen = len(upstream.seen)
    async with client.post("/v1/chat/completions", json=chat(model="old/tiny", tools=[{"type": "function"}])) as resp:
        error = (await resp.json())["error"]
    assert resp.status == 400 and error["code"] == "model_capability_missing" and "'tiny'" in error["message"]
    assert len(upstream.seen) == seen  # never sent


async def test_models_list_carries_the_declared_metadata(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    client = await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "models": [
        {"id": "big", "alias": "main", "context_window": 200000, "max_output_tokens": 8192, "reasoning_effort": "high",
         "capabilities": {"tools": True, "vision": False}, "tags": ["main", "heavy"]},
        "plain",
    ]}]})  # fmt: skip
    async with client.get("/v1/models") as resp:
        models = {m["id"]: m for m in (await resp.json())["data"]}
    big = models["p/big"]
    assert (big["context_window"], big["max_output_tokens"], big["reasoning_effort"]) == (200000, 8192, "high")
    assert big["capabilities"] == {"tools": True, "vision": False} and big["tags"] == ["main", "heavy"]
    assert models["main"]["upstream_id"] == "big" and "context_window_source" not in big
    assert models["p/plain"]["context_window"] == 128000 and models["p/plain"]["context_window_source"] == "default"


def test_mistral_gets_nine_character_tool_call_ids_that_still_match() -> None:
    provider = make_config(
        {"providers": [{"name": "m", "base_url": "https://api.mistral.ai/v1", "api_key": "k"}]}
    ).providers[0]
    assert provider.compat.tool_call_ids == "alnum9"
    body = {"model": "mistral-large", "messages": [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "toolu_01ABCdefGHI", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                                                          {"id": "abc123XYZ", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_01ABCdefGHI", "content": "1"}, {"role": "tool", "tool_call_id": "abc123XYZ", "content": "2"}]}  # fmt: skip
    out, _ = adapt_chat(body, provider, None)
    assert out is not None
    first, kept = (c["id"] for c in out["messages"][0]["tool_calls"])
    assert len(first) == 9 and first.isalnum() and kept == "abc123XYZ"  # a Mistral id passes as it is
    assert [m["tool_call_id"] for m in out["messages"][1:]] == [first, kept]


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("claude-sonnet-4-6", ({"type": "adaptive"}, {"effort": "high"})),
        ("claude-opus-4-7-20260101", ({"type": "adaptive"}, {"effort": "high"})),
        ("claude-sonnet-4-5-20250929", ({"type": "enabled", "budget_tokens": 4096}, None)),
        ("deepseek-chat", ({"type": "enabled", "budget_tokens": 4096}, None)),
    ],
)
def test_anthropic_thinking_is_adaptive_for_the_models_that_take_it(model_id: str, expected: Any) -> None:
    from proxyd.fitting import adapt_anthropic

    body = {
        "model": model_id,
        "max_tokens": 8000,
        "thinking": {"type": "enabled", "budget_tokens": 4096},
        "temperature": 0.5,
        "messages": [],
    }
    out, notes = adapt_anthropic(body, PLAIN, None)
    assert out is not None and "temperature" not in out and any("temperature dropped" in n for n in notes)
    assert (out["thinking"], out.get("output_config")) == expected
