"""Known-service detection, the defaults it brings, and the plain-HTTP policy: tables."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.config.parse import parse_config
from proxyd.config.providers import notices
from proxyd.config.services import complete_base_url, detect, is_local_host, plain_http_problem
from proxyd.config.settings import ConfigError


def provider(base_url: str, env: dict[str, str] | None = None, **extra: Any) -> Any:
    raw = {"providers": [{"name": "p", "base_url": base_url, **extra}]}
    return parse_config(raw, env=env or {}, read_file=_files).providers[0]


def _files(path: str) -> str:
    if path == "/etc/ca.pem":
        return "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    raise FileNotFoundError(2, "No such file or directory")


# base_url given -> (service, base_url used, wire, developer_role, content, max_tokens_field, reasoning, auth)
SERVICES = [
    ("https://openrouter.ai/api/v1", "OpenRouter", "https://openrouter.ai/api/v1", "auto", "system", "parts", "keep", "openrouter", "bearer"),
    ("https://openrouter.ai", "OpenRouter", "https://openrouter.ai/api/v1", "auto", "system", "parts", "keep", "openrouter", "bearer"),
    ("https://api.groq.com/openai/v1", "Groq", "https://api.groq.com/openai/v1", "chat", "system", "user-parts", "keep", "openai", "bearer"),
    ("https://api.groq.com", "Groq", "https://api.groq.com/openai/v1", "chat", "system", "user-parts", "keep", "openai", "bearer"),
    ("https://api.together.xyz/v1", "Together", "https://api.together.xyz/v1", "chat", "system", "parts", "max_tokens", "openai", "bearer"),
    ("https://api.mistral.ai", "Mistral", "https://api.mistral.ai/v1", "chat", "system", "parts", "max_tokens", "openai", "bearer"),
    ("https://api.perplexity.ai", "Perplexity", "https://api.perplexity.ai", "chat", "system", "parts", "max_tokens", "none", "bearer"),
    ("https://api.fireworks.ai/inference/v1", "Fireworks", "https://api.fireworks.ai/inference/v1", "chat", "system", "parts", "max_tokens", "openai", "bearer"),
    ("https://api.deepseek.com", "DeepSeek", "https://api.deepseek.com/v1", "chat", "system", "string", "max_tokens", "none", "bearer"),
    ("https://api.cerebras.ai/v1", "Cerebras", "https://api.cerebras.ai/v1", "chat", "system", "string", "keep", "openai", "bearer"),
    ("https://acme.openai.azure.com", "Azure OpenAI", "https://acme.openai.azure.com/openai/v1", "auto", "developer", "parts", "max_completion_tokens", "openai", "api-key"),
    ("https://api.openai.com/v1", "OpenAI", "https://api.openai.com/v1", "auto", "developer", "parts", "max_completion_tokens", "openai", "bearer"),
    ("https://api.openai.com/v1/chat/completions", "OpenAI", "https://api.openai.com/v1", "auto", "developer", "parts", "max_completion_tokens", "openai", "bearer"),
    ("http://localhost:1234", "LM Studio", "http://localhost:1234/v1", "chat", "system", "parts", "max_tokens", "openai", "bearer"),
    ("http://127.0.0.1:11434/v1/", "Ollama", "http://127.0.0.1:11434/v1", "auto", "system", "parts", "max_tokens", "openai", "bearer"),
    ("http://localhost:4000", "LiteLLM", "http://localhost:4000/v1", "chat", "system", "parts", "keep", "openai", "bearer"),
    ("http://192.168.1.20:8000/v1", "vLLM", "http://192.168.1.20:8000/v1", "auto", "system", "parts", "keep", "openai", "bearer"),
    ("http://127.0.0.1:8080/v1", None, "http://127.0.0.1:8080/v1", "auto", "developer", "parts", "keep", "openai", "bearer"),
    ("https://llm.example.com:8000/v1", None, "https://llm.example.com:8000/v1", "auto", "developer", "parts", "keep", "openai", "bearer"),
    ("https://my-openrouter.ai.example.com/v1", None, "https://my-openrouter.ai.example.com/v1", "auto", "developer", "parts", "keep", "openai", "bearer"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "service", "url", "wire", "developer", "content", "max_tokens", "reasoning", "auth"), SERVICES
)
def test_detected_defaults(given: str, service: str | None, url: str, wire: str, developer: str, content: str,
                           max_tokens: str, reasoning: str, auth: str) -> None:  # fmt: skip
    p = provider(given)
    assert (p.service, p.base_url, p.wire, p.auth) == (service, url, wire, auth)
    assert (p.compat.developer_role, p.compat.content, p.compat.max_tokens_field, p.compat.reasoning) == (
        developer, content, max_tokens, reasoning
    )  # fmt: skip
    assert p.base_url_added == (url[len(given.rstrip("/")) :] or None if url.startswith(given.rstrip("/")) else None)


@pytest.mark.parametrize(("given", "_service", "_url", "_wire", "_d", "_c", "_m", "_r", "_a"), SERVICES)
def test_explicit_settings_win(given: str, _service: Any, _url: Any, _wire: Any, _d: Any, _c: Any, _m: Any,
                               _r: Any, _a: Any) -> None:  # fmt: skip
    compat = {"developer_role": "developer", "content": "parts", "max_tokens_field": "keep", "reasoning": "openai"}
    p = provider(given, wire="responses", auth="none", compat=compat)
    assert (p.wire, p.auth) == ("responses", "none")
    assert (p.compat.developer_role, p.compat.content, p.compat.max_tokens_field, p.compat.reasoning) == (
        "developer", "parts", "keep", "openai"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("base_url", "path"),
    [("https://api.groq.com/custom", None), ("https://api.openai.com/", "/v1"), ("https://api.perplexity.ai", None)],
)
def test_only_a_bare_url_gets_the_api_path(base_url: str, path: str | None) -> None:
    assert complete_base_url(base_url, detect(base_url))[1] == path


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("10.1.2.3", True),
        ("172.16.0.9", True), ("172.32.0.1", False), ("192.168.7.7", True), ("fd12::1", True), ("fe80::1", True),
        ("100.101.102.103", True), ("gpubox", True), ("gpubox.local", True), ("host.docker.internal", True),
        ("box.tail1234.ts.net", True), ("8.8.8.8", False), ("api.example.com", False), ("example.local.evil.com", False),
        ("::ffff:10.0.0.1", True), ("::ffff:8.8.8.8", False), ("2001:db8::1", True), ("2606:4700::1", False),
    ],
)  # fmt: skip
def test_local_hosts(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_plain_http_to_a_public_host_is_a_config_error_unless_allowed() -> None:
    assert plain_http_problem("https://api.example.com/v1") is None
    assert plain_http_problem("http://10.0.0.5:8000/v1") is None
    with pytest.raises(ConfigError) as info:
        provider("http://llm.example.com/v1")
    assert "http:// to llm.example.com" in info.value.errors[0] and "allow_insecure_http" in info.value.errors[0]
    assert provider("http://llm.example.com/v1", allow_insecure_http=True).allow_insecure_http


def test_tls_settings() -> None:
    p = provider("https://gw.corp.example/v1", tls={"ca_file": "/etc/ca.pem"})
    assert p.tls.ca_file == "/etc/ca.pem" and p.tls.ca_pem and p.tls.verify
    assert "ca_pem" not in repr(p.tls) or "BEGIN" not in repr(p.tls)
    assert not provider("https://gw.corp.example/v1", tls={"verify": False}).tls.verify
    for tls, wanted in [
        ({"ca_file": "/nope.pem"}, "cannot read /nope.pem"),
        ({"verify": "no"}, "must be true or false"),
        ({"cafile": "/etc/ca.pem"}, "cafile"),
    ]:
        with pytest.raises(ConfigError) as info:
            provider("https://gw.corp.example/v1", tls=tls)
        assert wanted in "\n".join(info.value.errors)


def test_header_values_come_from_the_environment() -> None:
    p = provider("https://gw.corp.example/v1", env={"TEAM": "ml"}, headers={"X-Team": "${TEAM}"})
    assert p.headers == (("X-Team", "ml"),)


@pytest.mark.parametrize(
    ("compat", "wanted"),
    [
        ({"content": "blocks"}, "compat.content: must be one of parts, string"),
        ({"developer_role": "user"}, "compat.developer_role: must be one of developer, system"),
        ({"max_tokens_field": "tokens"}, "compat.max_tokens_field: must be one of keep, max_tokens"),
        ({"thinking": "x"}, "thinking"),
    ],
)
def test_bad_compat_values_are_named(compat: dict[str, str], wanted: str) -> None:
    with pytest.raises(ConfigError) as info:
        provider("http://127.0.0.1:9/v1", compat=compat)
    assert wanted in "\n".join(info.value.errors)


@pytest.mark.parametrize(
    ("base_url", "extra", "wanted"),
    [
        ("http://localhost:11434/v1", {}, []),
        ("http://localhost:11434", {}, [("info", "base_url had no path: added /v1 (Ollama's API); add_api_path: false")]),
        ("http://localhost:11434", {"add_api_path": False}, []),
        ("https://gw.example/v1", {"tls": {"verify": False}}, [("warning", "tls.verify is false")]),
        ("http://gw.example/v1", {"allow_insecure_http": True}, [("warning", "allow_insecure_http: the key")]),
        ("https://gw.example/v1", {"auth": "none", "api_key": "${K}"},
         [("warning", "auth is none, so the key (env K) is never sent; drop the key, or set auth: bearer")]),
        ("https://gw.example/v1", {"auth": "none"}, []),
        ("https://gw.example/v1", {"api_key": "${K}"}, []),
    ],
)  # fmt: skip
def test_notices(base_url: str, extra: dict[str, Any], wanted: list[tuple[str, str]]) -> None:
    said = notices(provider(base_url, env={"K": "sk-notice-secret"}, **extra))
    assert [level for level, _ in said] == [level for level, _ in wanted]
    assert all(text in message for (_, message), (_, text) in zip(said, wanted, strict=True))
    assert not any("sk-notice-secret" in message for _, message in said)
