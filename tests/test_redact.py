"""Secrets never reach a log line (pure)."""

from __future__ import annotations

import pytest

from proxyd.redact import MASK, command_secrets, redact_text, redact_value, secrets_of
from tests.conftest import make_config

KEY = "provider-key-0123456789"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (f"upstream said: invalid key {KEY}", KEY),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("headers={'x-api-key': 'zz9zz9zz9'}", "zz9zz9zz9"),
        ("api-key=qwertyuiop", "qwertyuiop"),
        ("leaked sk-proj-AbCdEf0123456789 here", "AbCdEf0123456789"),
        ("groq gsk_abcdefghijklmnop", "abcdefghijklmnop"),
        ("AIzaSyA1234567890abcdefghijklmnop", "AIzaSyA1234567890abcdefghijklmnop"),
    ],
)
def test_redact_text(text: str, gone: str) -> None:
    out = redact_text(text, {KEY})
    assert gone not in out and MASK in out


@pytest.mark.parametrize("text", ["provider=ollama", "model gpt-4o-mini", "tokens=12", "ask-me-anything"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text, {KEY}) == text


def test_fields_named_like_credentials_are_blanked_whole() -> None:
    event = {"headers": {"Authorization": "anything", "X-Title": "proxyd"}, "api_key": "short", "tokens": {"prompt": 3}}
    assert redact_value("event", event, frozenset()) == {
        "headers": {"Authorization": MASK, "X-Title": "proxyd"},
        "api_key": MASK,
        "tokens": {"prompt": 3},
    }


def test_secrets_of_config() -> None:
    config = make_config(
        {
            "providers": [
                {"name": "a", "base_url": "http://h/v1", "api_key": KEY,
                 "headers": {"X-Api-Key": "header-secret-value", "X-Title": "proxyd-title"}},
                {"name": "b", "base_url": "http://h/v1", "api_key": "ollama"},  # too short to hunt
            ]
        }
    )  # fmt: skip
    assert secrets_of(config) == {KEY, "header-secret-value"}


def test_secrets_of_config_hold_every_client_token_and_the_store_password() -> None:
    config = make_config(
        {
            "listen": {"token": "single-token-0000", "tokens": [{"name": "alice", "token": "alice-token-0000"}]},
            "store": {"url": "redis://:store-password-00@redis:6379/0"},
            "providers": [{"name": "b", "base_url": "http://h/v1"}],
        }
    )
    assert secrets_of(config) == {
        "single-token-0000", "alice-token-0000", "store-password-00", "redis://:store-password-00@redis:6379/0",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "env", "found"),
    [
        (["llama-server", "--api-key", "sk-1234567890"], [], {"sk-1234567890"}),
        (["vllm", "serve", "m", "--api-key=tok-1234567890"], [], {"tok-1234567890"}),
        (["srv", "--hf-token", "hf_1234567890", "--port", "8081"], [], {"hf_1234567890"}),
        (["srv", "-m", "/models/q.gguf", "--port", "8081"], [("HF_TOKEN", "hf_abc1234567"), ("OMP_NUM_THREADS", "4")],
         {"hf_abc1234567"}),
        (["srv", "--api-key"], [], set()),  # a flag with nothing after it
    ],
)  # fmt: skip
def test_a_local_servers_keys_are_found_in_its_command(
    argv: list[str], env: list[tuple[str, str]], found: set[str]
) -> None:
    assert command_secrets(argv, env) == found
