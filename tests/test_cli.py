"""`proxyd` as a real process: validate, models, serve, SIGTERM, config discovery."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.conftest import FakeUpstream, paced_stream
from tests.helpers import WAIT, arun, run, start_serve, write

SECRET = "sk-very-secret-value-42"


def test_validate_reports_every_error_with_its_path_and_exits_2(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yaml",
        "providers:\n"
        "  - name: ok\n    base_url: http://127.0.0.1:1/v1\n    api_key: ${KEY}\n"
        "  - name: bad\n    base_url: 127.0.0.1:11434\n    wire: grpc\n    api_key: " + SECRET + "\n",
    )
    result = run("validate", "--config", str(config), env={"KEY": SECRET})
    assert result.returncode == 2
    assert "providers[1].base_url: must start with http:// or https://" in result.stderr
    assert "providers[1].wire: must be one of auto, responses, chat" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_yaml_errors_point_at_the_line(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", "providers:\n  - name: a\n    name: b\n    base_url: http://h/v1\n")
    result = run("validate", "--config", str(config))
    assert result.returncode == 2 and "c.yaml:3:5: invalid YAML: duplicate key 'name'" in result.stderr
    config = write(tmp_path / "d.yaml", "providers: [\n")
    assert run("validate", "--config", str(config)).returncode == 2


TYPO = """# my config
default_provider: ollama
providers:
  - name: ollama
    base_url: http://127.0.0.1:11434/v1
  - name: vllm
    base_url http://127.0.0.1:8000/v1
    wire: chat
"""


def test_a_typo_is_reported_on_its_own_line_and_shown(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yaml", TYPO)  # the ':' is missing on line 7; the parser stops on line 8
    result = run("validate", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}:7:5: invalid YAML: could not find expected ':'" in result.stderr
    assert (
        "the parser stopped at line 8" in result.stderr
        and "line 7:     base_url http://127.0.0.1:8000/v1" in result.stderr
    )


def test_edits_of_a_broken_file_say_where_and_change_nothing(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yaml", TYPO)
    for args in (
        ("set", "ollama.wire", "chat"),
        ("remove", "ollama"),
        ("add", "groq", "https://api.groq.com/openai/v1"),
    ):
        result = run(*args, "--config", str(config))
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and f"{config}:7:5: invalid YAML" in result.stderr
        assert "fix the file first; nothing was changed" in result.stderr
        assert config.read_text() == TYPO


def test_validate_summary_shows_key_sources_not_keys(tmp_path: Path) -> None:
    write(tmp_path / "key", SECRET + "\n")
    config = write(
        tmp_path / "c.yaml",
        "default_provider: a\nproviders:\n"
        "  - {name: a, base_url: 'http://127.0.0.1:1/v1/chat/completions', api_key: '${KEY}'}\n"
        "  - {name: b, base_url: 'https://h/v1', api_key_file: key}\n",
    )
    result = run("validate", "--config", str(config), env={"KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert "provider a: http://127.0.0.1:1/v1  wire=auto  key=env KEY" in result.stdout
    assert "key=file key" in result.stdout and SECRET not in result.stdout


def test_validate_summary_names_clients_and_the_shared_store_without_secrets(tmp_path: Path) -> None:
    write(tmp_path / "redis.url", "redis://:store-password-0000@10.0.0.5:6380/2\n")
    config = write(
        tmp_path / "c.yaml",
        "listen: {host: 0.0.0.0, tokens: [{name: alice, token: '${ALICE}'}, {name: bob, token: bob-token-00000}]}\n"
        "store: {url_file: redis.url}\n"
        "providers: [{name: a, base_url: 'http://127.0.0.1:1/v1'}]\n",
    )
    result = run("validate", "--config", str(config), env={"ALICE": SECRET})
    assert result.returncode == 0, result.stderr
    assert "clients: alice (env ALICE), bob (literal)" in result.stdout
    assert "store: redis://10.0.0.5:6380/2 (file redis.url), shared" in result.stdout
    assert SECRET not in result.stdout and "store-password" not in result.stdout and "bob-token" not in result.stdout


def test_validate_says_what_it_detected(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yaml",
        "providers:\n"
        "  - {name: llama, base_url: 'http://localhost:11434'}\n"
        "  - {name: gw, base_url: 'https://gw.corp.example/v1', compat: {content: string}, tls: {verify: false}}\n",
    )
    out = run("validate", "--config", str(config)).stdout
    assert "provider llama: http://localhost:11434/v1  wire=auto" in out
    assert "detected Ollama: auth=bearer developer_role=system content=parts max_tokens_field=max_tokens" in out
    assert "info: base_url had no path: added /v1 (Ollama's API)" in out
    assert "no known service detected: auth=bearer developer_role=developer content=string" in out
    assert "warning: tls.verify is false" in out


def test_config_discovery_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": "", "PROXYD_CONFIG": ""}
    assert "shipped example" in run("validate", env=env).stdout
    user = home / ".config" / "proxyd" / "config.yaml"
    user.parent.mkdir(parents=True)
    write(user, "providers: [{name: from-home, base_url: 'http://h/v1'}]\n")
    assert "provider from-home" in run("validate", env=env).stdout
    other = write(tmp_path / "env.yaml", "providers: [{name: from-env, base_url: 'http://h/v1'}]\n")
    assert "provider from-env" in run("validate", env={**env, "PROXYD_CONFIG": str(other)}).stdout
    flag = write(tmp_path / "flag.yaml", "providers: [{name: from-flag, base_url: 'http://h/v1'}]\n")
    assert (
        "provider from-flag" in run("validate", "--config", str(flag), env={**env, "PROXYD_CONFIG": str(other)}).stdout
    )


async def test_models_lists_configured_and_discovered(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def listing(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "m"}, {"id": "extra"}]})

    upstream.handler = listing
    config = write(
        tmp_path / "c.yaml",
        "providers:\n"
        f"  - {{name: p, base_url: '{upstream.base_url}', models: [{{id: m, alias: fast, context_window: 8192,"
        " capabilities: {tools: true}, tags: [main]}]}\n"
        f"  - {{name: bare, base_url: '{upstream.base_url}'}}\n"
        "  - {name: down, base_url: 'http://127.0.0.1:1/v1'}\n",
    )
    code, out, err = await arun("models", "--config", str(config))
    assert code == 0
    assert out.splitlines() == [
        "p/m (alias fast)\tconfig\tcontext=8192\tcaps=tools\ttags=main",
        "p/extra\tdiscovered\tcontext=-\tcaps=-\ttags=-",
        "bare/m\tdiscovered\tcontext=-\tcaps=-\ttags=-",
        "bare/extra\tdiscovered\tcontext=-\tcaps=-\ttags=-",
    ]
    assert "down: GET /models gave no list" in err
    code, out, _ = await arun("models", "p", "--offline", "--json", "--config", str(config))
    assert [row["id"] for row in json.loads(out)] == ["p/m"]
    code, _, err = await arun("models", "nope", "--config", str(config))
    assert code == 2 and "no provider named nope" in err


async def test_serve_proxies_and_stops_cleanly_on_sigterm(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = write(
        tmp_path / "c.yaml",
        f"default_provider: p\nproviders: [{{name: p, base_url: '{upstream.base_url}', api_key: '${{KEY}}'}}]\n",
    )
    proc, url = await start_serve(config, env={"KEY": SECRET})
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/chat/completions", json={"model": "m"}) as resp,
        ):
            assert resp.status == 200 and (await resp.json())["model"] == "m"
        assert upstream.last.headers["Authorization"] == f"Bearer {SECRET}"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), WAIT)
    assert proc.stderr is not None
    rest = (await proc.stderr.read()).decode()
    assert code == 0 and '"event": "stopped"' in rest and SECRET not in rest


async def test_serve_with_bad_config_exits_2_and_busy_port_exits_1(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "providers: []\n")
    assert run("serve", "--config", str(bad)).returncode == 2
    good = write(tmp_path / "good.yaml", "providers: [{name: p, base_url: 'http://127.0.0.1:1/v1'}]\n")
    proc, url = await start_serve(good)
    try:
        port = url.split(":")[2].split("/")[0]
        busy = run("serve", "--config", str(good), "--port", port)
        assert busy.returncode == 1 and "cannot listen" in busy.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), WAIT)


def test_a_store_that_cannot_open_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    config = write(
        tmp_path / "c.yaml",
        f"store: {{path: '{tmp_path / 'a-directory'}'}}\nproviders: [{{name: p, base_url: 'http://127.0.0.1:1/v1'}}]\n",
    )
    result = run("serve", "--config", str(config), "--port", "0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot open the response store {tmp_path / 'a-directory'}: unable to open database file" in result.stderr
    assert "store.enabled: false" in result.stderr


async def test_sigterm_lets_a_stream_in_flight_finish(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.handler = paced_stream(6, 0.2, finish=True)
    config = write(
        tmp_path / "c.yaml", f"default_provider: p\nproviders: [{{name: p, base_url: '{upstream.base_url}'}}]\n"
    )
    proc, url = await start_serve(config)
    request = {"model": "m", "stream": True}
    async with aiohttp.ClientSession() as session, session.post(f"{url}/chat/completions", json=request) as resp:
        first = await resp.content.readany()
        proc.send_signal(signal.SIGTERM)  # mid-stream
        rest = await asyncio.wait_for(resp.content.read(), WAIT)
    body = first + rest
    assert body.count(b'"n":') == 6 and body.endswith(b"data: [DONE]\n\n")
    assert await asyncio.wait_for(proc.wait(), WAIT) == 0


async def test_one_missing_cloud_key_disables_that_provider_alone(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = write(tmp_path / "config.yaml", (
        "health: {interval_s: 0}\ndefault_provider: local\nproviders:\n"
        f"  - name: local\n    base_url: {upstream.base_url}\n    wire: chat\n"
        "  - name: openrouter\n    base_url: https://openrouter.ai/api/v1\n    api_key: ${PROXYD_TEST_OPENROUTER_KEY}\n"
    ))  # fmt: skip
    code, _, err = await arun("validate", "--config", str(config))
    assert code == 0 and "provider openrouter is not in use: PROXYD_TEST_OPENROUTER_KEY is not set" in err
    code, _, err = await arun("validate", "--strict", "--config", str(config))
    assert code == 2 and "Environment=PROXYD_TEST_OPENROUTER_KEY=" in err
    proc, url = await start_serve(config)
    try:
        async with aiohttp.ClientSession() as s:
            chat = {"messages": [{"role": "user", "content": "hi"}]}
            async with s.post(url + "/chat/completions", json={**chat, "model": "openrouter/some-model"}) as resp:
                said = await resp.json()
            assert resp.status == 503 and said["error"]["code"] == "provider_disabled"
            assert "PROXYD_TEST_OPENROUTER_KEY is not set in proxyd's environment" in said["error"]["message"]
            async with s.post(url + "/chat/completions", json={**chat, "model": "local-model"}) as resp:
                assert resp.status == 200  # the local provider serves as ever
            async with s.get(url.removesuffix("/v1") + "/status") as resp:
                providers = {p["name"]: p for p in (await resp.json())["providers"]}
        assert providers["local"]["state"] != "misconfigured"
        assert providers["openrouter"]["state"] == "misconfigured"
        assert providers["openrouter"]["error"].startswith("PROXYD_TEST_OPENROUTER_KEY is not set")
        assert not [s for s in upstream.seen if s.path.endswith("/chat/completions") and b"some-model" in s.body]
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
