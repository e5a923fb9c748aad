from __future__ import annotations

from typing import Any

import pytest

from proxyd.config.keys import expand_env
from proxyd.config.parse import parse_config
from proxyd.config.providers import normalize_base_url
from proxyd.config.settings import ConfigError, Timeouts, ToolCalls

SECRET = "sk-live-abcdef0123456789"


def parse(raw: Any, env: dict[str, str] | None = None, files: dict[str, str] | None = None) -> Any:
    def read_file(path: str) -> str:
        if files and path in files:
            return files[path]
        raise FileNotFoundError(2, "No such file or directory")

    return parse_config(raw, env=env or {}, read_file=read_file)


def errors_of(raw: Any, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(raw, env)
    return info.value.errors


def one(**provider: Any) -> dict[str, Any]:
    return {"providers": [{"name": "p", "base_url": "http://127.0.0.1:9/v1", **provider}]}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
        ("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1"),
        ("  https://api.example.com/v1//  ", "https://api.example.com/v1"),
        ("https://api.example.com/v1/chat/completions", "https://api.example.com/v1"),
        ("https://api.example.com/v1/chat/completions/", "https://api.example.com/v1"),
        ("https://api.example.com/v1/responses", "https://api.example.com/v1"),
        ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
        ("https://openrouter.ai/api/v1/", "https://openrouter.ai/api/v1"),
    ],
)
def test_base_url_normalization(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected
    assert parse(one(base_url=given)).providers[0].base_url == expected


@pytest.mark.parametrize(
    ("value", "env", "expected", "missing"),
    [
        ("${A}", {"A": "x"}, "x", []),
        ("${A:-d}", {}, "d", []),
        ("${A:-d}", {"A": ""}, "d", []),
        ("${A:-}", {}, "", []),
        ("pre-${A}-${B}", {"A": "1", "B": "2"}, "pre-1-2", []),
        ("${A}", {}, "", ["A"]),
        ("$A and ${}", {"A": "x"}, "$A and ${}", []),
    ],
)
def test_expand_env(value: str, env: dict[str, str], expected: str, missing: list[str]) -> None:
    assert expand_env(value, env) == (expected, missing)


def test_full_provider_entry() -> None:
    config = parse(
        {
            "listen": {"host": "127.0.0.1", "port": 9999, "max_body_mb": 2, "header_timeout_s": 5},
            "default_provider": "p",
            "tcp_keepalive": {"idle_s": 3, "interval_s": 4, "count": 6},
            "providers": [
                {
                    "name": "p",
                    "base_url": "https://api.example.com/v1/",
                    "api_key": "${KEY}",
                    "wire": "chat",
                    "default_model": "m",
                    "headers": {"X-Tenant": "${TENANT:-team-a}", "X-Num": 5},
                    "models": [
                        "plain",
                        {
                            "id": "m",
                            "alias": "fast",
                            "context_window": 8192,
                            "capabilities": {"tools": True},
                            "tags": ["main"],
                        },
                    ],
                    "streaming": False,
                    "timeouts": {"connect_s": 1, "first_byte_s": 2, "idle_s": 3.5},
                }
            ],
        },
        env={"KEY": SECRET},
    )
    p = config.providers[0]
    assert (config.listen.port, config.listen.max_body_bytes, config.listen.header_timeout_s) == (9999, 2 << 20, 5)
    assert (config.tcp_keepalive.idle_s, config.tcp_keepalive.count) == (3, 6)
    assert (p.api_key, p.key_source, p.wire, p.default_model, p.streaming) == (SECRET, "env KEY", "chat", "m", False)
    assert p.headers == (("X-Tenant", "team-a"), ("X-Num", "5"))
    assert [m.id for m in p.models] == ["plain", "m"]
    assert (p.models[1].alias, p.models[1].context_window, p.models[1].tags) == ("fast", 8192, ("main",))
    assert p.timeouts == Timeouts(connect_s=1, first_byte_s=2, idle_s=3.5)
    assert SECRET not in repr(config)


def test_defaults() -> None:
    config = parse(one())
    p = config.providers[0]
    assert (config.listen.host, config.listen.port, config.listen.max_body_bytes) == ("127.0.0.1", 8787, 64 << 20)
    assert (p.wire, p.api_key, p.key_source, p.streaming) == ("auto", None, "none", True)
    assert config.default_provider is None


def test_api_key_file_is_read_and_stripped() -> None:
    config = parse(one(api_key_file="/keys/p"), files={"/keys/p": f"{SECRET}\n"})
    assert config.providers[0].api_key == SECRET
    assert config.providers[0].key_source == "file /keys/p"


def test_tool_call_repair_by_provider_and_model() -> None:
    config = parse(one(tool_calls={"repair": True}, models=["a", {"id": "b", "tool_calls": {"repair": False}}]))
    provider = config.providers[0]
    assert provider.tool_calls.repair is True
    assert [m.tool_calls for m in provider.models] == [None, ToolCalls(repair=False)]  # None: the provider's
    assert parse(one()).providers[0].tool_calls == ToolCalls()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "providers: no providers configured"),
        ({"providers": []}, "providers: no providers configured"),
        ({"providers": {"name": "x"}}, "providers: must be a list"),
        ([1, 2], "(top level): must be a mapping"),
        ({"providers": [{"base_url": "http://h/v1"}]}, "providers[0].name: required"),
        ({"providers": [{"name": "a/b", "base_url": "http://h/v1"}]}, "providers[0].name: required: letters"),
        ({"providers": [{"name": "p"}]}, "providers[0].base_url: required"),
        (one(base_url="ftp://h/v1"), "providers[0].base_url: must start with http:// or https://"),
        (one(base_url="127.0.0.1:11434/v1"), "providers[0].base_url: must start with http:// or https://"),
        (one(base_url="https://user:pw@h/v1"), "providers[0].base_url: must not hold credentials"),
        (one(base_url="https://h/v1?x=1"), "providers[0].base_url: must not have a query"),
        (one(base_url="${NOPE}"), "providers[0].base_url: environment variable NOPE is not set"),
        (one(wire="grpc"), "providers[0].wire: must be one of auto, responses, chat"),
        (one(api_key=123), "providers[0].api_key: must be a string"),
        (one(api_key="a", api_key_file="/k"), "providers[0]: set only one of api_key, api_key_file"),
        (one(api_key_file="/nope"), "providers[0].api_key_file: cannot read /nope: No such file or directory"),
        (one(headers={"X-A": "a\r\nX-Injected: 1"}), "providers[0].headers.X-A: contains a line break"),
        (one(headers={"Bad Name": "x"}), "providers[0].headers: 'Bad Name' is not a valid header name"),
        (one(headers={"Host": "x"}), "providers[0].headers.Host: is set by proxyd itself"),
        (one(headers=["x"]), "providers[0].headers: must be a mapping"),
        (one(models=[{"alias": "x"}]), "providers[0].models[0].id: required"),
        (one(models=[{"id": "m", "context_window": -1}]), "providers[0].models[0].context_window: must be a positive"),
        (one(models=[{"id": "m", "capabilities": {"tools": "yes"}}]), "providers[0].models[0].capabilities.tools"),
        (one(models=[{"id": "m", "tags": "main"}]), "providers[0].models[0].tags: must be a list"),
        (one(streaming="yes"), "providers[0].streaming: must be true or false"),
        (one(tool_calls={"repair": "yes"}), "providers[0].tool_calls.repair: must be true or false"),
        (one(tool_calls={"repiar": True}), "providers[0].tool_calls.repiar: unknown key (did you mean 'repair'?)"),
        (one(tool_calls=True), "providers[0].tool_calls: must be a mapping"),
        (one(models=[{"id": "m", "tool_calls": {"repair": 1}}]), "providers[0].models[0].tool_calls.repair: must be"),
        (one(timeouts={"idle_s": 0}), "providers[0].timeouts.idle_s: must be a number of at least"),
        (one(timeouts={"idle": 5}), "providers[0].timeouts.idle: unknown key (did you mean 'idle_s'?)"),
        (one(bsae_url="x"), "providers[0].bsae_url: unknown key (did you mean 'base_url'?)"),
        ({**one(), "listen": {"port": 70000}}, "listen.port: must be a whole number from 0 to 65535"),
        ({**one(), "listen": 5}, "listen: must be a mapping"),
        ({**one(), "listen": {"max_body_mb": "big"}}, "listen.max_body_mb: must be a number"),
        ({**one(), "tcp_keepalive": {"count": 0}}, "tcp_keepalive.count: must be a whole number from 1 to 127"),
        ({**one(), "default_provider": "ghost"}, "default_provider: 'ghost' is not a configured provider (have: p)"),
        ({**one(), "defualt_provider": "p"}, "defualt_provider: unknown key (did you mean 'default_provider'?)"),
        (one(credential="a/b"), "providers[0].credential: must be a credential name"),
        (one(credential="openai"), "providers[0].credential: $CREDENTIALS_DIRECTORY is not set"),
        (one(credential="k", api_key="x"), "providers[0]: set only one of api_key, credential"),
        ({**one(), "listen": {"host": "0.0.0.0"}}, "listen.host: listening on 0.0.0.0 lets other machines"),
        ({**one(), "listen": {"host": "::"}}, "listen.host: listening on :: lets other machines"),
        ({**one(), "listen": {"token": "${NO_TOKEN}"}}, "listen.token: environment variable NO_TOKEN is not set"),
        ({**one(), "listen": {"token_credential": "t"}}, "listen.token_credential: $CREDENTIALS_DIRECTORY is not"),
        ({**one(), "listen": {"allowed_origins": ["*"]}}, "listen.allowed_origins[0]: '*' would let any web page"),
        ({**one(), "listen": {"allowed_origins": "http://a"}}, "listen.allowed_origins: must be a list of origins"),
        ({**one(), "listen": {"allowed_hosts": [""]}}, "listen.allowed_hosts: must be a list of host names"),
        ({**one(), "listen": {"token": "a\r\nb"}}, "listen.token: contains a line break"),
        ({**one(), "shutdown_grace_s": -1}, "shutdown_grace_s: must be a number of seconds from 0 to 86400"),
        ({**one(), "shutdown_delay_s": True}, "shutdown_delay_s: must be a number of seconds from 0 to 86400"),
        (
            {**one(), "store": {"url": "postgresql://db/proxyd"}},
            "store.url: postgresql is not a store proxyd can share",
        ),
        ({**one(), "store": {"url": "http://redis:6379"}}, "store.url: must be a Redis URL"),
        ({**one(), "store": {"url": "redis://"}}, "store.url: names no host"),
        ({**one(), "store": {"url": "redis://h", "path": "/x.db"}}, "store: set store.path"),
        ({**one(), "store": {"url": "redis://h", "url_file": "/r"}}, "store: set only one of url, url_file"),
        ({**one(), "store": {"url": "${NO_REDIS}"}}, "store.url: environment variable NO_REDIS is not set"),
        ({**one(), "listen": {"host": "0.0.0.0", "tokens": []}}, "listen.host: listening on 0.0.0.0"),
        ({**one(), "listen": {"tokens": [{"name": "a"}]}}, "listen.tokens[0]: needs one of token"),
        (
            {**one(), "listen": {"token": "same-token-1", "tokens": [{"name": "a", "token": "same-token-1"}]}},
            "listen.tokens: client 'a' has the same token as another",
        ),
        (
            {**one(), "listen": {"token": "t-1", "tokens": [{"name": "default", "token": "t-2"}]}},
            "listen.tokens: the client name 'default' is used twice",  # listen.token is client default
        ),
    ],
)
def test_config_errors_name_their_yaml_path(raw: Any, expected: str) -> None:
    assert any(e.startswith(expected) for e in errors_of(raw)), errors_of(raw)


def test_credential_is_read_from_the_credentials_directory() -> None:
    env = {"CREDENTIALS_DIRECTORY": "/run/credentials/proxyd.service/"}
    files = {
        "/run/credentials/proxyd.service/openai": f"{SECRET}\n",
        "/run/credentials/proxyd.service/tok": "t0ken-1234",
    }
    raw = {**one(credential="openai"), "listen": {"token_credential": "tok"}}
    config = parse(raw, env=env, files=files)
    assert (config.providers[0].api_key, config.providers[0].key_source) == (SECRET, "credential openai")
    assert (config.listen.access.token, config.listen.access.token_source) == ("t0ken-1234", "credential tok")


def test_a_missing_credential_names_its_path() -> None:
    errs = errors_of(one(credential="gone"), env={"CREDENTIALS_DIRECTORY": "/run/credentials/x"})
    assert errs == ["providers[0].credential: cannot read /run/credentials/x/gone: No such file or directory"]


def test_listen_access_settings() -> None:
    raw = {
        **one(),
        "shutdown_grace_s": 5,
        "listen": {
            "host": "0.0.0.0",
            "token": "${PROXYD_TOKEN}",
            "allowed_hosts": ["proxyd.internal"],
            "allowed_origins": ["http://localhost:3000"],
        },
    }
    config = parse(raw, env={"PROXYD_TOKEN": "tok-0123456789"})
    access = config.listen.access
    assert (access.token, access.token_source) == ("tok-0123456789", "env PROXYD_TOKEN")
    assert (access.allowed_hosts, access.allowed_origins) == (("proxyd.internal",), ("http://localhost:3000",))
    assert config.shutdown_grace_s == 5.0
    assert "tok-0123456789" not in repr(config)


def test_a_shared_store_and_named_clients() -> None:
    raw = {
        **one(),
        "shutdown_delay_s": 3,
        "store": {"url": "redis://:${REDIS_PASSWORD}@redis:6379/0", "max_mb": 64},
        "listen": {"host": "0.0.0.0", "tokens": [{"name": "alice", "token": "alice-0123456789"}]},
    }
    config = parse(raw, env={"REDIS_PASSWORD": "pw-0123456789"})
    assert (config.store.url, config.store.url_source) == ("redis://:pw-0123456789@redis:6379/0", "env REDIS_PASSWORD")
    assert config.store.max_mb == 64 and config.shutdown_delay_s == 3
    assert [(t.client.name, t.source) for t in config.listen.access.tokens] == [("alice", "literal")]
    assert "pw-0123456789" not in repr(config) and "alice-0123456789" not in repr(config)


def test_every_error_is_collected_at_once() -> None:
    errs = errors_of(
        {"providers": [{"name": "a", "base_url": "x"}, {"name": "b", "wire": "?", "base_url": "http://h"}]}
    )
    assert [e.split(":")[0] for e in errs] == ["providers[0].base_url", "providers[1].wire"]


def test_duplicate_names_and_aliases() -> None:
    errs = errors_of(
        {
            "providers": [
                {"name": "a", "base_url": "http://h/v1", "models": [{"id": "m", "alias": "fast"}]},
                {"name": "a", "base_url": "http://h/v1", "models": [{"id": "n", "alias": "fast"}]},
            ]
        }
    )
    assert "providers[1].name: 'a' is used by an earlier provider; names must be unique" in errs
    assert "providers[1].models[0].alias: 'fast' is already an alias in a" in errs


def test_errors_never_contain_the_key() -> None:
    errs = errors_of({"providers": [{"name": "p", "base_url": "nope", "api_key": SECRET + "\n"}]}, env={})
    assert errs and all(SECRET not in e for e in errs)


SECRET = "sk-SECRET-VALUE-0123456789"


@pytest.mark.parametrize(
    "raw",
    [
        {"providers": [{"name": "a", "base_url": "${S}"}]},  # no scheme
        {"providers": [{"name": "a", "base_url": "http://"}], "listen": {"token": "${S}\n"}},
        {"providers": [{"name": "a", "base_url": "https://${S}.example.com/v1?x=1"}]},  # a query
        {"providers": [{"name": "a", "base_url": "http://${S}.example.com/v1"}]},  # plain http outside
        {"providers": [{"name": "a", "base_url": "ftp://${S}/v1"}]},
        {"providers": [{"name": "a", "base_url": "http://${S}@example.com/v1"}]},  # credentials
        {"providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1", "headers": {"X-A": "${S}\u0001"}}]},
        {"providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1", "api_key": "${S}\u0001"}]},
        {"providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1"}], "store": {"url": "redis://:${S}@h:x/0"}},
        {"providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1"}], "store": {"url": "${S}"}},
        {"providers": [{"name": "a", "base_url": "http://127.0.0.1:1/v1"}], "listen": {"token": "${S}",
         "tokens": [{"name": "b", "token": "${S}"}]}},
    ],
)  # fmt: skip
def test_no_error_quotes_a_variables_value(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env={"S": SECRET}, read_file=lambda name: "")
    assert caught.value.errors and SECRET not in str(caught.value) and SECRET.lower() not in str(caught.value).lower()


def test_a_key_whose_variable_is_unset_disables_that_provider_alone() -> None:
    raw = {
        "providers": [
            {"name": "ollama", "base_url": "http://127.0.0.1:11434/v1"},
            {"name": "openrouter", "base_url": "https://openrouter.ai/api/v1", "api_key": "${OPENROUTER_API_KEY}"},
        ]
    }
    config = parse_config(raw, env={}, read_file=lambda name: "")
    local, cloud = config.providers
    assert local.disabled is None and cloud.api_key is None and cloud.key_source == "env OPENROUTER_API_KEY (not set)"
    assert cloud.disabled is not None and cloud.disabled.text.startswith(
        "OPENROUTER_API_KEY is not set in proxyd's environment"
    )
    assert "Environment=OPENROUTER_API_KEY=" in cloud.disabled.text  # the fix for systemd, beside the shell's
    set_now = parse_config(raw, env={"OPENROUTER_API_KEY": "sk-or-1"}, read_file=lambda name: "")
    assert set_now.providers[1].disabled is None and set_now.providers[1].api_key == "sk-or-1"
