"""Named clients: listen.tokens parsed from YAML, and the models a client may use (tables)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from proxyd.config.clients import ModelRule, check_clients, parse_tokens
from proxyd.config.parse import parse_config
from proxyd.config.settings import Client, ClientToken
from proxyd.config.yaml_fields import Errors
from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.echo import chat_server

ProxyFactory = Callable[..., Awaitable[ProxyClient]]

FILES = {"/run/alice.token": "alice-secret-from-file\n", "/run/empty.token": "\n"}


def read_file(path: str) -> str:
    if path not in FILES:
        raise FileNotFoundError(2, "No such file or directory")
    return FILES[path]


def parsed(raw: object, env: dict[str, str] | None = None) -> tuple[tuple[ClientToken, ...], list[str]]:
    errs = Errors()
    tokens = parse_tokens(raw, env or {}, read_file, errs)
    check_clients(tokens, errs)
    return tokens, errs.items


def test_entries_from_a_value_a_file_and_the_environment() -> None:
    tokens, errors = parsed(
        [
            {"name": "alice", "token_file": "/run/alice.token"},
            {"name": "ci-bot", "token": "${BOT_TOKEN}", "models": ["local/*", "fast"]},
            {"name": "bob@example.com", "token": "bob-literal-token"},
        ],
        {"BOT_TOKEN": "bot-secret-from-env"},
    )
    assert errors == []
    assert [(t.client, t.token, t.source) for t in tokens] == [
        (Client("alice"), "alice-secret-from-file", "file /run/alice.token"),
        (Client("ci-bot", ("local/*", "fast")), "bot-secret-from-env", "env BOT_TOKEN"),
        (Client("bob@example.com"), "bob-literal-token", "literal"),
    ]
    assert "secret" not in repr(tokens)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"name": "a"}, "listen.tokens: must be a list"),
        (["alice"], "listen.tokens[0]: must be a mapping"),
        ([{"token": "t-123456789"}], "listen.tokens[0].name: must be a name"),
        ([{"name": "has space", "token": "t-123456789"}], "listen.tokens[0].name: must be a name"),
        ([{"name": "alice"}], "listen.tokens[0]: needs one of token, token_file or token_credential"),
        ([{"name": "alice", "token": "x", "token_file": "/run/alice.token"}], "set only one of token, token_file"),
        ([{"name": "alice", "token_file": "/run/missing"}], "cannot read /run/missing"),
        ([{"name": "alice", "token_file": "/run/empty.token"}], "/run/empty.token is empty"),
        ([{"name": "alice", "token": "${NOPE}"}], "environment variable NOPE is not set"),
        ([{"name": "alice", "token": "t-1", "models": "gpt-4o"}], "listen.tokens[0].models: must be a non-empty"),
        ([{"name": "alice", "token": "t-1", "models": []}], "listen.tokens[0].models: must be a non-empty"),
        ([{"name": "alice", "token": "t-1", "role": "owner"}], "listen.tokens[0].role: must be one of client, viewer"),
        ([{"name": "alice", "token": "t-1", "rights": "admin"}], "listen.tokens[0]"),
        (
            [{"name": "alice", "token": "t-1"}, {"name": "alice", "token": "t-2"}],
            "the client name 'alice' is used twice",
        ),
        (
            [{"name": "alice", "token": "same-1"}, {"name": "bob", "token": "same-1"}],
            "client 'bob' has the same token as another",
        ),
    ],
)
def test_mistakes_are_named(raw: Any, expected: str) -> None:
    _, errors = parsed(raw)
    assert any(expected in e for e in errors), errors
    assert not any("same-1" in e or "t-123456789" in e for e in errors)  # tokens never in messages


@pytest.mark.parametrize(
    ("patterns", "names", "allowed"),
    [
        ((), ("anything",), True),
        ((), (None,), True),
        (("gpt-4o",), ("gpt-4o", None), True),
        (("gpt-4o",), ("gpt-4o-mini", "openai/gpt-4o-mini"), False),
        (("gpt-4o*",), ("gpt-4o-mini",), True),
        (("local/*",), ("llama3", "llama3", "local/llama3"), True),  # routed to provider local
        (("local/*",), ("llama3", "llama3", "remote/llama3"), False),
        (("fast",), ("fast", "groq/llama-3.1-8b"), True),  # a group or alias by the name sent
        (("fast",), (None, None), False),  # no model named: not one of the allowed
        (("qwen?",), ("qwen3",), True),
        (("qwen?",), ("qwen32",), False),
        (("a.b",), ("axb",), False),  # a dot is a dot, not a regex
    ],
)
def test_model_rule(patterns: tuple[str, ...], names: tuple[str | None, ...], allowed: bool) -> None:
    assert ModelRule(patterns).allows(names) is allowed


def test_model_rule_lists_only_allowed_models() -> None:
    catalog: list[dict[str, Any]] = [{"id": "gpt-4o"}, {"id": "local/llama3"}, {"id": "llama3"}]
    assert ModelRule(("local/*", "gpt-4o")).listed(catalog) == [{"id": "gpt-4o"}, {"id": "local/llama3"}]
    assert ModelRule(()).listed(catalog) == catalog


# --- over HTTP: who sent each request, and what each may use ---------------------------------

ALICE_TOKEN, BOT_TOKEN = "alice-token-0123456789", "bot-token-0123456789"
TEAM = {
    "listen": {
        "tokens": [
            {"name": "alice", "token": ALICE_TOKEN, "role": "viewer"},
            {"name": "ci-bot", "token": BOT_TOKEN, "models": ["llama/*"]},
        ]
    }
}


@pytest.fixture
async def team(proxy_factory: ProxyFactory, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = chat_server
    providers = [
        {"name": "llama", "base_url": upstream.base_url, "wire": "chat"},
        {"name": "other", "base_url": upstream.base_url, "wire": "chat"},
    ]
    return await proxy_factory({**TEAM, "providers": providers})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_token_is_its_client_in_the_access_line_and_metrics(team: ProxyClient) -> None:
    chat = {"model": "llama/q", "messages": [{"role": "user", "content": "hi"}]}
    with structlog.testing.capture_logs() as logs:
        for token in (ALICE_TOKEN, ALICE_TOKEN, BOT_TOKEN):
            async with team.post("/v1/chat/completions", json=chat, headers=bearer(token)) as resp:
                assert resp.status == 200, await resp.text()
        async with team.post("/v1/chat/completions", json=chat, headers=bearer("a-third-token-0000")) as resp:
            assert resp.status == 401
            assert "listen.tokens" in (await resp.json())["error"]["message"]
    assert [e["client"] for e in logs if e["event"] == "request"] == ["alice", "alice", "ci-bot"]
    assert not any(ALICE_TOKEN in repr(e) or BOT_TOKEN in repr(e) for e in logs)
    async with team.get("/metrics", headers=bearer(ALICE_TOKEN)) as resp:
        text = await resp.text()
    by_client = {c: series(text, "proxyd_requests_total", f'client="{c}"') for c in ("alice", "ci-bot")}
    assert by_client == {"alice": 2.0, "ci-bot": 1.0}
    assert series(text, "proxyd_tokens_total", 'client="alice"') > 0  # usage counted per client too
    assert 'client="a-third' not in text and series(text, "proxyd_refused_requests_total", 'reason="token"') == 1


async def test_a_client_limited_to_some_models_gets_only_those(team: ProxyClient) -> None:
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    async with team.post("/v1/chat/completions", json={**chat, "model": "llama/q"}, headers=bearer(BOT_TOKEN)) as r:
        assert r.status == 200
    async with team.post("/v1/chat/completions", json={**chat, "model": "other/q"}, headers=bearer(BOT_TOKEN)) as r:
        assert r.status == 403
        error = (await r.json())["error"]
        assert error["code"] == "model_not_allowed" and "'ci-bot' may use only the models llama/*" in error["message"]
    messages = {"model": "other/q", "max_tokens": 10, **chat}
    async with team.post("/v1/messages", json=messages, headers={"x-api-key": BOT_TOKEN}) as r:
        assert r.status == 403
        body = await r.json()  # in the shape the Anthropic client reads
        assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    async with team.post("/v1/chat/completions", json={**chat, "model": "other/q"}, headers=bearer(ALICE_TOKEN)) as r:
        assert r.status == 200  # alice is not limited
    async with team.get("/v1/models/other%2Fq", headers=bearer(BOT_TOKEN)) as r:
        assert r.status == 404


def series(text: str, name: str, label: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{") and label in line
    )


def documented_file(path: str) -> str:
    return "redis://:pw@redis:6379/0\n" if path.endswith(".url") else f"token-of-{Path(path).name}\n"


@pytest.mark.parametrize("doc", ["README.md", "docs/configuration.md"])
def test_the_documented_tokens_snippet_is_a_valid_config(doc: str) -> None:
    text = (Path(__file__).resolve().parents[2] / doc).read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:] if "\n  tokens:" in b.split("```", 1)[0]]
    assert blocks, f"no listen.tokens example in {doc}"
    for block in blocks:
        raw = yaml.safe_load(block)
        raw.setdefault("providers", [{"name": "local", "base_url": "http://127.0.0.1:11434/v1"}])
        config = parse_config(raw, env={"CI_TOKEN": "ci-token-0123456789", "CREDENTIALS_DIRECTORY": "/run/c"},
                              read_file=documented_file)  # fmt: skip
        assert "ci-bot" in [c.client.name for c in config.listen.access.clients]
