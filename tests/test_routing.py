from __future__ import annotations

import pytest

from proxyd.errors import ProxyError
from proxyd.routing import Router, Target, parse_target
from tests.conftest import make_config


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/v1/chat/completions", Target("/chat/completions", "")),
        ("/v1/chat/completions?x=1&y=%2F", Target("/chat/completions", "x=1&y=%2F")),
        ("/v1", Target("", "")),
        ("/v1/models/openrouter%2Fanthropic%2Fclaude", Target("/models/openrouter%2Fanthropic%2Fclaude", "")),
        ("/providers/groq/v1/embeddings", Target("/embeddings", "", pinned="groq")),
        ("/providers/groq/v1", Target("", "", pinned="groq")),
        ("/healthz", None),
        ("/v10/chat", None),
        ("/providers/groq/v2/x", None),
    ],
)
def test_parse_target(raw: str, expected: Target | None) -> None:
    assert parse_target(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/v1/../admin",
        "/v1/./chat/completions",
        "/v1/%2e%2e/admin",
        "/v1/%2E%2E/admin",
        "/v1/.%2e/admin",
        "/v1/a%2f..%2fb",
        "/v1/a%5c..%5cb",
        "/v1/%252e%252e/admin",
        "/providers/x/v1/..",
        "/v1/..?q=1",
    ],
)
def test_dot_segments_are_refused(raw: str) -> None:
    with pytest.raises(ProxyError) as info:
        parse_target(raw)
    assert info.value.status == 400 and info.value.code == "invalid_path"


@pytest.mark.parametrize("raw", ["http://evil.example/v1/chat/completions", "//evil.example/v1", "evil/v1"])
def test_absolute_form_targets_are_refused(raw: str) -> None:
    with pytest.raises(ProxyError) as info:
        parse_target(raw)
    assert info.value.code == "invalid_target"


@pytest.mark.parametrize(
    ("rest", "endpoint"),
    [
        ("/chat/completions", "chat.completions"),
        ("/responses", "responses"),
        ("/responses/resp_1", "responses.item"),
        ("/models", "models"),
        ("/models/a/b", "models"),
        ("/embeddings", "embeddings"),
        ("/audio/transcriptions", "other"),
        ("/made-up-by-a-client-123", "other"),
    ],
)
def test_endpoint_labels_are_a_fixed_set(rest: str, endpoint: str) -> None:
    assert Target(rest, "").endpoint == endpoint


ROUTER = Router(
    make_config(
        {
            "default_provider": "ollama",
            "providers": [
                {
                    "name": "ollama",
                    "base_url": "http://127.0.0.1:11434/v1",
                    "default_model": "llama3.2",
                    "models": [{"id": "llama3.2", "alias": "fast"}, {"id": "qwen3:32b"}],
                },
                {
                    "name": "openrouter",
                    "base_url": "https://openrouter.ai/api/v1",
                    "models": [{"id": "anthropic/claude-opus-4-7", "alias": "opus"}, {"id": "qwen3:32b"}],
                },
                {"name": "groq", "base_url": "https://api.groq.com/openai/v1"},
            ],
        }
    )
)


@pytest.mark.parametrize(
    ("model", "pinned", "provider", "upstream_model", "rewritten"),
    [
        # rule 2: provider prefix, the rest (slashes and all) goes upstream
        ("openrouter/anthropic/claude-opus-4-7", None, "openrouter", "anthropic/claude-opus-4-7", True),
        ("groq/llama-3.3-70b", None, "groq", "llama-3.3-70b", True),
        ("ollama/fast", None, "ollama", "llama3.2", True),  # an alias behind a prefix
        # rule 3: aliases, then catalog ids (first provider listing it wins)
        ("fast", None, "ollama", "llama3.2", True),
        ("opus", None, "openrouter", "anthropic/claude-opus-4-7", True),
        ("anthropic/claude-opus-4-7", None, "openrouter", "anthropic/claude-opus-4-7", False),
        ("qwen3:32b", None, "ollama", "qwen3:32b", False),
        # rule 4: default provider; a missing model becomes its default_model
        ("something-else", None, "ollama", "something-else", False),
        ("unknown/prefix", None, "ollama", "unknown/prefix", False),
        (None, None, "ollama", "llama3.2", True),
        ("", None, "ollama", "llama3.2", True),
        ("groq/", None, "ollama", "groq/", False),
        # rule 1: a pinned provider takes the model as sent (only its own aliases resolve)
        ("openrouter/auto", "openrouter", "openrouter", "openrouter/auto", False),
        ("opus", "openrouter", "openrouter", "anthropic/claude-opus-4-7", True),
        ("fast", "openrouter", "openrouter", "fast", False),
        (None, "groq", "groq", None, False),
    ],
)
def test_route(
    model: str | None, pinned: str | None, provider: str, upstream_model: str | None, rewritten: bool
) -> None:
    route = ROUTER.route(model, pinned)
    assert (route.provider.name, route.model, route.rewritten) == (provider, upstream_model, rewritten)


def test_unknown_pinned_provider_is_404_naming_providers() -> None:
    with pytest.raises(ProxyError) as info:
        ROUTER.route("x", "nope")
    assert info.value.status == 404
    assert "ollama, openrouter, groq" in info.value.message


def test_no_match_without_default_is_404_naming_providers() -> None:
    router = Router(make_config({"providers": [{"name": "a", "base_url": "http://h/v1"}]}))
    for model in ("mystery", None):
        with pytest.raises(ProxyError) as info:
            router.route(model)
        assert info.value.status == 404 and info.value.param == "model"
        assert "configured providers: a" in info.value.message
