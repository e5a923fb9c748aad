"""The config of local servers: a provider's command, ready, idle_unload_s and memory, and the
local section (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.config.parse import parse_config
from proxyd.config.settings import ConfigError, LocalLimits, LocalServer

URL = "http://127.0.0.1:8081/v1"


def parse(provider: dict[str, Any], env: dict[str, str] | None = None, **top: Any) -> Any:
    raw = {"providers": [{"name": "gemma", "base_url": URL, **provider}], **top}
    return parse_config(raw, env=env or {}, read_file=lambda path: "")


def errors(provider: dict[str, Any], **top: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(provider, **top)
    return caught.value.errors


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        (["llama-server", "-m", "/m/q.gguf", "--port", 8081], ("llama-server", "-m", "/m/q.gguf", "--port", "8081")),
        (
            "llama-server -m '/m/my model.gguf' --port 8081",
            ("llama-server", "-m", "/m/my model.gguf", "--port", "8081"),
        ),
        ({"argv": ["vllm", "serve", "q"]}, ("vllm", "serve", "q")),
        (["srv", "--api-key", "${KEY}"], ("srv", "--api-key", "sk-0123")),
    ],
)
def test_command_forms(command: object, argv: tuple[str, ...]) -> None:
    local = parse({"command": command}, env={"KEY": "sk-0123"}).providers[0].local
    assert local.argv == argv


def test_everything_a_local_server_takes() -> None:
    config = parse(
        {"command": {"argv": ["llama-server"], "env": {"LLAMA_ARG_CTX_SIZE": 8192}, "cwd": "/models"},
         "ready": {"path": "/health", "timeout_s": 90}, "idle_unload_s": 600, "memory": "6.5GiB"},
        local={"max_running": 2, "memory": "16G"},
    )  # fmt: skip
    assert config.providers[0].local == LocalServer(
        argv=("llama-server",), env=(("LLAMA_ARG_CTX_SIZE", "8192"),), cwd="/models", ready_path="/health",
        start_timeout_s=90, idle_unload_s=600, memory=int(6.5 * 2**30),
    )  # fmt: skip
    assert config.local == LocalLimits(max_running=2, memory=16 * 2**30)


@pytest.mark.parametrize(
    ("memory", "size"), [("512MiB", 512 * 2**20), ("2 GB", 2 * 2**30), (4, 4 * 2**30), ("1T", 2**40)]
)
def test_sizes(memory: object, size: int) -> None:
    assert parse({"command": ["x"], "memory": memory}).providers[0].local.memory == size


@pytest.mark.parametrize(
    ("provider", "top", "said"),
    [
        ({"command": []}, {}, "providers[0].command: must be the server's argv"),
        ({"command": {"argv": "x 'y"}}, {}, "providers[0].command.argv: cannot be split"),
        ({"command": "srv 'unclosed"}, {}, "cannot be split into words"),
        ({"command": {"argv": ["x"], "shell": True}}, {}, "providers[0].command.shell: unknown key"),
        ({"command": ["x", "${NOPE}"]}, {}, "providers[0].command[1]: environment variable NOPE is not set"),
        ({"command": ["x"], "memory": "lots"}, {}, "providers[0].memory: must be a size such as 6GiB"),
        ({"command": ["x"], "ready": {"path": "health"}}, {}, "providers[0].ready.path: must be a path"),
        ({"command": ["x"], "ready": {"timeout_s": 0}}, {}, "providers[0].ready.timeout_s: must be a number"),
        ({"command": ["x"], "idle_unload_s": 0}, {}, "providers[0].idle_unload_s: must be a number of seconds"),
        ({"idle_unload_s": 60}, {}, "providers[0].idle_unload_s: applies to a server proxyd starts: add a command"),
        ({"memory": "4GiB"}, {}, "providers[0].memory: applies to a server proxyd starts"),
        ({"command": ["x"], "base_url": "http://10.0.0.5:8081/v1"}, {}, "proxyd starts this provider's server on this machine"),
        ({"command": ["x"], "memory": "8GiB"}, {"local": {"memory": "4GiB"}}, "more than local.memory (4 GiB): it could never start"),
        ({"command": ["x"]}, {"local": {"max_running": 0}}, "local.max_running: must be a whole number from 1"),
        ({"command": ["x"]}, {"local": {"max_models": 1}}, "local.max_models: unknown key (known: max_running, memory)"),
    ],
)  # fmt: skip
def test_mistakes_are_named(provider: dict[str, Any], top: dict[str, Any], said: str) -> None:
    assert any(said in line for line in errors(provider, **top)), errors(provider, **top)


def test_a_key_in_the_command_is_never_shown() -> None:
    local = parse({"command": ["srv", "--api-key", "${KEY}"]}, env={"KEY": "sk-secret-0123"}).providers[0].local
    assert "sk-secret-0123" not in repr(local)


def test_each_model_may_have_its_own_server_on_the_providers_port() -> None:
    config = parse({"models": [{"id": "qwen", "command": "llama-server -m q.gguf --port 8081", "memory": "5GiB"},
                               {"id": "gemma", "command": ["llama-server", "-m", "g.gguf", "--port", "8081"],
                                "idle_unload_s": 60}, "shared"]})  # fmt: skip
    provider = config.providers[0]
    assert provider.local is None
    qwen, gemma, shared = provider.models
    assert qwen.local.argv[-1] == "8081" and qwen.local.memory == 5 * 2**30
    assert gemma.local.idle_unload_s == 60 and shared.local is None


def test_a_provider_command_and_model_commands_do_not_mix() -> None:
    said = errors({"command": ["srv"], "models": [{"id": "q", "command": ["other"]}]})
    assert any("some of its models have a command of their own" in line for line in said), said
    said = errors({"models": [{"id": "q", "idle_unload_s": 5}]})
    assert any("providers[0].models[0].idle_unload_s: applies to a server proxyd starts" in line for line in said)
