"""What `proxyd check` sends and how it reads failures (pure)."""

from __future__ import annotations

import json
import subprocess

import pytest

from proxyd.checkup.diagnose import (
    MODEL_PLACEHOLDER,
    base_url_alternatives,
    curl_command,
    error_message,
    probe_for,
    url_forms_to_try,
    working_form_advice,
)
from proxyd.config.settings import Provider
from proxyd.errors import names_model
from tests.conftest import make_config


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://h:11434", ["http://h:11434/v1"]),
        ("http://h:11434/v1", ["http://h:11434"]),
        ("https://gw.example/api", ["https://gw.example/api/v1", "https://gw.example/v1"]),
        ("https://gw.example/openai/v1", ["https://gw.example/openai", "https://gw.example/v1"]),
    ],
)
def test_base_url_alternatives(base: str, expected: list[str]) -> None:
    assert base_url_alternatives(base) == expected


def one_provider(base_url: str, **extra: object) -> Provider:
    return make_config({"providers": [{"name": "p", "base_url": base_url, **extra}]}).providers[0]


@pytest.mark.parametrize(
    ("base", "extra", "forms", "working", "fix"),
    [
        # proxyd added /v1 to a bare LM Studio URL: the URL as given is tried first, and the fix keeps it as given
        ("http://127.0.0.1:1234", {}, ["http://127.0.0.1:1234"], "http://127.0.0.1:1234",
         "set add_api_path: false for this provider"),
        # an explicit /v1 on a known port whose API is at the root: a bare URL would get /v1 back, so say both
        ("http://127.0.0.1:4000/v1", {}, ["http://127.0.0.1:4000"], "http://127.0.0.1:4000",
         "set base_url: http://127.0.0.1:4000 and add_api_path: false"),
        # an unknown server: the plain advice
        ("http://127.0.0.1:9999", {}, ["http://127.0.0.1:9999/v1"], "http://127.0.0.1:9999/v1",
         "set base_url: http://127.0.0.1:9999/v1   (that form works)"),
        # add_api_path: false leaves a bare URL alone; /v1 is then just another form to try
        ("http://127.0.0.1:1234", {"add_api_path": False}, ["http://127.0.0.1:1234/v1"], "http://127.0.0.1:1234/v1",
         "set base_url: http://127.0.0.1:1234/v1   (that form works)"),
    ],
)  # fmt: skip
def test_which_url_form_to_try_and_what_to_set(
    base: str, extra: dict[str, object], forms: list[str], working: str, fix: str
) -> None:
    provider = one_provider(base, **extra)
    assert url_forms_to_try(provider) == forms
    assert fix in working_form_advice(provider, "/chat/completions", working).fix


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, b'{"error": "model \'x\' not found, try pulling it first"}', True),  # Ollama
        (404, b'{"object": "error", "message": "The model `x` does not exist.", "code": 404}', True),  # vLLM
        (404, b'{"error": {"code": "model_not_found", "message": "..."}}', True),  # OpenAI
        (400, b'{"error": {"message": "invalid model ID"}}', True),
        (404, b"404 page not found", False),
        (500, b"model not found", False),
    ],
)
def test_names_model(status: int, body: bytes, expected: bool) -> None:
    assert names_model(status, body) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"message": "bad key"}}', "bad key"),
        (b'{"detail": "Not authenticated"}', "Not authenticated"),
        (b"<html>\n  502 Bad Gateway </html>", "<html> 502 Bad Gateway </html>"),
        (
            b'{"error": "Authorization: Bearer sk-abcdefghijkl rejected"}',
            "Authorization: [redacted] [redacted] rejected",
        ),
    ],
)
def test_error_message(body: bytes, expected: str) -> None:
    assert error_message(body) == expected


def test_probes_and_curl() -> None:
    assert probe_for("responses", "m").body["max_output_tokens"] == 16
    assert probe_for("chat", "m").body["max_tokens"] == 1
    (provider,) = make_config(
        {
            "providers": [
                {
                    "name": "p",
                    "base_url": "http://h/v1",
                    "api_key": "sk-secret-123456",
                    "headers": {"api-key": "other-secret", "X-Title": "it's me"},
                }
            ]
        }
    ).providers
    curl = curl_command(provider, provider.base_url, probe_for("chat", "m"))
    assert "sk-secret" not in curl and "other-secret" not in curl
    assert '"Authorization: Bearer $KEY"' in curl and '"api-key: $API_KEY"' in curl
    assert curl.startswith("curl -sS -N http://h/v1/chat/completions ")


def test_curl_leaves_an_unknown_model_to_the_shell() -> None:
    curl = curl_command(
        one_provider("http://127.0.0.1:9/v1"), "http://127.0.0.1:9/v1", probe_for("chat", MODEL_PLACEHOLDER)
    )
    data = curl.split(" -d ", 1)[1]
    shown = subprocess.run(
        ["bash", "-c", f"printf %s {data}"], env={"MODEL": "qwen3:8b"}, capture_output=True, text=True, check=True
    )
    assert json.loads(shown.stdout) == {**probe_for("chat", "qwen3:8b").body}


def test_curl_for_an_anthropic_provider_names_its_key_header_and_version() -> None:
    provider = one_provider("https://api.anthropic.com/v1", api_key="sk-ant-secret-value-1")
    curl = curl_command(provider, provider.base_url, probe_for("anthropic", "claude-x"))
    assert "https://api.anthropic.com/v1/messages" in curl and '"x-api-key: $KEY"' in curl
    assert "'anthropic-version: 2023-06-01'" in curl and "sk-ant-secret" not in curl and "Authorization" not in curl


def test_offline_a_known_services_name_is_not_blamed_and_the_curl_names_the_key_variable() -> None:
    import socket

    import aiohttp

    from proxyd.checkup.diagnose import curl_command, key_reference, probe_for
    from proxyd.checkup.run import connection_failure
    from tests.conftest import make_config

    config = make_config({"providers": [
        {"name": "openrouter", "base_url": "https://openrouter.ai/api/v1", "api_key": "${OR_KEY}"},
        {"name": "mine", "base_url": "https://llm.example.internal/v1", "api_key": "${OR_KEY}"}]}, env={"OR_KEY": "sk-or-secret-1"})  # fmt: skip
    router, mine = config.providers
    dns = aiohttp.ClientConnectorDNSError(aiohttp.client_reqrep.ConnectionKey("openrouter.ai", 443, True, True, None, None, None), socket.gaierror(-3, "Temporary failure in name resolution"))  # fmt: skip
    offline = connection_failure(dns, router, router.base_url, 5)
    cause, fix = offline.cause, offline.fix
    assert "no working DNS or network" in cause and "OpenRouter" in cause and "host name" not in fix
    assert "check the host name" in connection_failure(dns, mine, mine.base_url, 5).fix
    curl = curl_command(router, router.base_url, probe_for("chat", "openai/gpt-4.1"))
    assert "$OR_KEY" in curl and "sk-or-secret" not in curl
    assert key_reference("file keys/groq") == "$(cat keys/groq)" and key_reference("literal") == "$KEY"
