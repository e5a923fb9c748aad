"""What a provider's GET /models says (ids and metadata), and how it fills the config's gaps:
in the pure parser, in routing, in /v1/models, and in what a request is allowed to send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from proxyd.config.settings import Config, ModelEntry
from proxyd.listing import MAX_MODELS, merged, models_in_listing
from proxyd.routing import Router
from tests.conftest import FakeUpstream, ProxyClient, make_config
from tests.helpers import eventually

ProxyFactory = Callable[..., Awaitable[ProxyClient]]


def entry(model_id: str, window: int | None = None, output: int | None = None, **caps: bool) -> ModelEntry:
    """A listed model: everything in it was said by the listing."""
    said = set(caps) | {n for n, v in (("context_window", window), ("max_output_tokens", output)) if v}
    return ModelEntry(model_id, None, window, output, tuple(caps.items()), listed=frozenset(said))


OPENROUTER = {
    "id": "qwen/qwen3-vl",
    "context_length": 262144,
    "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
    "top_provider": {"context_length": 131072, "max_completion_tokens": 32768, "is_moderated": False},
    "supported_parameters": ["tools", "tool_choice", "max_tokens", "temperature"],
}
OPENROUTER_OLD = {  # before input_modalities: the modality string, and only the top provider's window
    "id": "old/text",
    "architecture": {"modality": "text->text"},
    "top_provider": {"context_length": 8192},
    "supported_parameters": ["reasoning", "max_tokens"],
}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param({"id": "llama3.2", "object": "model", "owned_by": "library"}, entry("llama3.2"), id="ollama"),
        pytest.param(
            OPENROUTER, entry("qwen/qwen3-vl", 262144, 32768, vision=True, tools=True, reasoning=False), id="openrouter"
        ),
        pytest.param(
            OPENROUTER_OLD,
            entry("old/text", 8192, vision=False, tools=False, reasoning=True),
            id="openrouter-modality-string",
        ),
        pytest.param(
            {"id": "llama-3.3-70b-versatile", "context_window": 131072, "max_completion_tokens": 32768, "active": True},
            entry("llama-3.3-70b-versatile", 131072, 32768),
            id="groq",
        ),
        pytest.param(
            {"id": "Qwen/Qwen3-8B", "max_model_len": 32768, "root": "/models/q"},
            entry("Qwen/Qwen3-8B", 32768),
            id="vllm",
        ),
        pytest.param(
            {
                "id": "pixtral-large-latest",
                "max_context_length": 131072,
                "capabilities": {"completion_chat": True, "function_calling": True, "vision": True},
            },
            entry("pixtral-large-latest", 131072, vision=True, tools=True),
            id="mistral",
        ),
        pytest.param({"id": "m", "context_length": 32768, "type": "chat"}, entry("m", 32768), id="together"),
        pytest.param(
            {
                "id": "accounts/fireworks/models/x",
                "context_length": 4096,
                "supports_image_input": False,
                "supports_tools": True,
            },
            entry("accounts/fireworks/models/x", 4096, vision=False, tools=True),
            id="fireworks",
        ),
        pytest.param(
            {
                "id": "w",
                "context_window": True,
                "context_length": "32k",
                "max_model_len": 2.5e4,
                "max_completion_tokens": -1,
                "capabilities": {"vision": "yes"},
                "supported_parameters": "tools",
                "architecture": {"modality": "text"},
            },
            entry("w"),
            id="wrong-types-ignored",
        ),
        pytest.param({"id": "huge", "context_length": 10**12}, entry("huge"), id="absurd-window-ignored"),
    ],
)
def test_a_listing_item_says_what_it_says(item: dict[str, Any], expected: ModelEntry) -> None:
    assert models_in_listing({"object": "list", "data": [item]}) == (expected,)


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        ({"data": [{"id": "a"}, {"id": "b"}, {"id": "a", "context_length": 9}, {"x": 1}, "c", {"id": ""}]}, ["a", "b"]),
        ({"data": [{"id": "x" * 257}, {"id": 7}]}, []),
        ({"data": []}, []),
        ({"models": []}, []),  # Gemini's models.list, empty
        (
            {"models": [{"name": "models/gemini-2.5-pro", "inputTokenLimit": 1048576}, {"displayName": "x"}]},
            ["gemini-2.5-pro"],
        ),  # Gemini's, named models/{id}
        ([1], None),
        ({"data": "nope"}, None),
    ],
)
def test_listing_ids_and_shapes(body: object, ids: list[str] | None) -> None:
    found = models_in_listing(body)
    assert (None if found is None else [m.id for m in found]) == ids


def test_a_huge_listing_is_cut() -> None:
    found = models_in_listing({"data": [{"id": f"m{i}"} for i in range(MAX_MODELS + 10)]})
    assert found is not None and len(found) == MAX_MODELS


CONFIGURED = ModelEntry("m", alias="fast", context_window=8000, capabilities=(("tools", True),), tags=("main",))


@pytest.mark.parametrize(
    ("configured", "listed", "expected"),
    [
        pytest.param(CONFIGURED, None, CONFIGURED, id="nothing-listed"),
        pytest.param(CONFIGURED, entry("m"), CONFIGURED, id="listing-says-nothing"),
        pytest.param(
            CONFIGURED,
            entry("m", 131072, 4096, tools=False, vision=True),
            ModelEntry(
                "m",
                "fast",
                8000,
                4096,
                (("tools", True), ("vision", True)),
                ("main",),
                listed=frozenset({"max_output_tokens", "vision"}),
            ),
            id="set-values-win-gaps-filled",
        ),
        pytest.param(
            ModelEntry("m"),
            entry("m", 32768),
            ModelEntry("m", context_window=32768, listed=frozenset({"context_window"})),
            id="bare-config-entry",
        ),
    ],
)
def test_merged(configured: ModelEntry, listed: ModelEntry | None, expected: ModelEntry) -> None:
    assert merged(configured, listed) == expected


def config_with(models: list[Any]) -> Config:
    return make_config({"providers": [{"name": "p", "base_url": "http://127.0.0.1:9/v1", "models": models}]})


def test_a_user_value_sticks_across_refreshes() -> None:
    config = config_with([{"id": "m", "context_window": 8000}])
    first = Router(config, {"p": (entry("m", 131072, 4096, vision=True),)})
    second = Router(config, {"p": (entry("m", 65536, 2048, vision=False), entry("new", 1000))})
    assert (first.model("p", "m").context_window, first.model("p", "m").max_output_tokens) == (8000, 4096)  # type: ignore[union-attr]
    again = second.model("p", "m")
    assert again is not None and (again.context_window, again.max_output_tokens) == (8000, 2048)
    assert again.capability("vision") is False  # the refreshed listing's word, since config said nothing
    assert second.model("p", "new") == entry("new", 1000) and second.known("p", "new")
    assert second.route("p/m").entry == again and second.route("p/unlisted").entry is None


# --- end to end: a fake provider whose /models carries metadata -----------------------------------------------


def rich_provider(listing: dict[str, Any]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return web.json_response(listing)
        return web.json_response({"id": "c", "object": "chat.completion", "choices": [], "sent": await request.json()})

    return handler


async def catalog_when(client: ProxyClient, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Poll /v1/models until ``ready`` holds of it."""

    async def catalog() -> dict[str, Any] | None:
        data = {m["id"]: m for m in (await (await client.get("/v1/models")).json())["data"]}
        return data if ready(data) else None

    return await eventually(catalog, "the catalog to be ready")


async def test_listing_metadata_fills_the_catalog_and_guards_requests(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    listing = {"data": [dict(OPENROUTER, id="vl"), dict(OPENROUTER_OLD, id="text"), {"id": "plain"}]}
    upstream.handler = rich_provider(listing)
    client = await proxy_factory(
        {
            "health": {"interval_s": 0.1},
            "providers": [
                {
                    "name": "p",
                    "base_url": upstream.base_url,
                    "models": [
                        {"id": "vl", "context_window": 100000},  # the user's window sticks
                        {"id": "text", "capabilities": {"tools": True}},  # the user's "yes" beats the listing's "no"
                        "plain",
                    ],
                },
            ],
        }
    )
    data = await catalog_when(client, lambda d: d["p/text"]["context_window"] == 8192)
    assert "context_window_source" not in data["p/vl"] and data["p/vl"]["context_window"] == 100000
    assert data["p/vl"]["max_output_tokens"] == 32768
    assert data["p/vl"]["capabilities"] == {"vision": True, "tools": True, "reasoning": False}
    assert data["p/text"]["context_window_source"] == "provider"
    assert data["p/text"]["capabilities"] == {"tools": True, "vision": False, "reasoning": True}
    assert (data["p/plain"]["context_window"], data["p/plain"]["context_window_source"]) == (128000, "default")

    image = [{"type": "text", "text": "what is it"}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    resp = await client.post(
        "/v1/chat/completions", json={"model": "p/text", "messages": [{"role": "user", "content": image}]}
    )
    error = (await resp.json())["error"]
    assert resp.status == 400 and error["code"] == "model_capability_missing"
    assert "'text' of provider 'p' has no vision (the provider's GET /models says so)" in error["message"]
    assert "if the listing is wrong, set capabilities.vision: true" in error["message"]

    upstream.seen.clear()
    resp = await client.post(
        "/v1/chat/completions",
        json={
            "model": "p/text",
            "max_tokens": 50000,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "messages": [],
        },
    )
    assert resp.status == 200
    sent = upstream.last.json()
    # no listed output limit for it, but its listed 8192-token context, on a server of this machine:
    # max_tokens is lowered to what fits beside the prompt (docs/local.md, "Small contexts")
    assert sent["tools"] and 8000 < sent["max_tokens"] < 8192
    resp = await client.post("/v1/chat/completions", json={"model": "p/vl", "max_tokens": 50000, "messages": []})
    assert resp.status == 200 and upstream.last.json()["max_tokens"] == 32768  # lowered to the listed limit


async def test_a_refreshed_listing_updates_the_gaps_only(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    windows = {"now": 4096}

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"data": [{"id": "m", "context_length": windows["now"]}, {"id": "set", "context_length": windows["now"]}]}
        )

    upstream.handler = handler
    client = await proxy_factory(
        {
            "health": {"interval_s": 0.1},
            "providers": [
                {"name": "p", "base_url": upstream.base_url, "models": ["m", {"id": "set", "context_window": 999}]}
            ],
        }
    )
    await catalog_when(client, lambda d: d["p/m"]["context_window"] == 4096)
    windows["now"] = 8192
    data = await catalog_when(client, lambda d: d["p/m"]["context_window"] == 8192)
    assert data["p/set"]["context_window"] == 999 and "context_window_source" not in data["p/set"]


async def test_an_anthropic_listing_is_read_page_by_page(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> None:
    """GET /v1/models as Anthropic answers it: with its headers, 20 a page, has_more and last_id."""
    ids = [f"claude-{i:02d}" for i in range(45)]

    async def models(request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != "sk-ant-test" or "anthropic-version" not in request.headers:
            return web.json_response(
                {"type": "error", "error": {"type": "authentication_error", "message": "no"}}, status=401
            )
        after = request.query.get("after_id")
        start = ids.index(after) + 1 if after else 0
        page = ids[start : start + 20]
        items = [{"id": i, "type": "model", "display_name": i, "created_at": "2025-01-01T00:00:00Z"} for i in page]
        return web.json_response(
            {"data": items, "has_more": start + 20 < len(ids), "first_id": page[0], "last_id": page[-1]}
        )

    upstream.handler = models
    client = await proxy_factory(
        {
            "health": {"interval_s": 0.1},
            "providers": [
                {"name": "claude", "base_url": upstream.base_url, "wire": "anthropic", "api_key": "sk-ant-test"}
            ],
        }
    )
    data = await catalog_when(client, lambda d: "claude/claude-44" in d)
    assert sorted(k for k in data if k.startswith("claude/")) == [f"claude/{i}" for i in ids]
