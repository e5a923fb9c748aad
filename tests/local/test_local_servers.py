"""proxyd running local servers: the fake llama-server as a real child process on a real port,
started by the first request, swapped under local.max_running, stopped when idle, restarted
after a crash, with keep-alive comments to a stream that waits for a load."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from proxyd.config.loader import load_config
from proxyd.local.supervisor import LOCAL
from proxyd.reload import RELOADS
from proxyd.server import ReloadFrom, start
from tests.conftest import ProxyClient
from tests.daemons import listening
from tests.helpers import arun, eventually, start_serve
from tests.local.conftest import alive, chat, fake_provider

Factory = Callable[..., Awaitable[ProxyClient]]


async def _status(proxy: ProxyClient) -> dict[str, Any]:
    async with proxy.get("/status") as resp:
        doc = await resp.json()
    return {p["name"]: p for p in doc["providers"]}


async def _local(proxy: ProxyClient, name: str) -> dict[str, Any]:
    return (await _status(proxy))[name]["local"]  # type: ignore[no-any-return]


async def _chat(proxy: ProxyClient, model: str, text: str = "hi", **extra: Any) -> tuple[int, dict[str, Any]]:
    async with proxy.post("/v1/chat/completions", json=chat(model, text, **extra)) as resp:
        return resp.status, await resp.json()


def _port(provider: dict[str, Any]) -> int:
    return int(provider["base_url"].rsplit(":", 1)[1].split("/")[0])


async def test_the_first_request_starts_the_server_and_is_answered(proxy_factory: Factory) -> None:
    fake = fake_provider("gemma", load_s=0.8)
    proxy = await proxy_factory({"providers": [fake]})
    before = await _local(proxy, "gemma")
    assert before["state"] == "stopped" and before["pid"] is None
    assert not listening(_port(fake))  # nothing runs before a request needs it
    status, body = await _chat(proxy, "gemma", "hello")
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "Hello! You said: hello"
    after = await _local(proxy, "gemma")
    assert after["state"] == "ready" and alive(after["pid"])
    assert after["load_s"] >= 0.8  # it waited for the load, and not for a fixed time
    assert after["context_window"] == 4096  # read from its /props
    async with proxy.get("/metrics") as resp:
        text = await resp.text()
    assert 'proxyd_local_start_seconds_count{provider="gemma"} 1.0' in text
    assert 'proxyd_local_server_state{provider="gemma",state="ready"} 1.0' in text


async def test_requests_that_arrive_during_the_load_all_wait_for_one_start(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma", load_s=1.0)]})
    answers = await asyncio.gather(*(_chat(proxy, "gemma", f"n{i}") for i in range(5)))
    assert [status for status, _ in answers] == [200] * 5
    async with proxy.get("/metrics") as resp:
        assert 'proxyd_local_starts_total{provider="gemma"} 1.0' in await resp.text()


async def test_two_models_under_max_running_1_swap_on_alternate_requests(proxy_factory: Factory) -> None:
    a, b = fake_provider("alpha"), fake_provider("beta")
    proxy = await proxy_factory({"providers": [a, b], "local": {"max_running": 1}})
    for i in range(3):
        for name in ("alpha", "beta"):
            status, body = await _chat(proxy, name, f"{name} {i}")
            assert status == 200, body
            locals_ = {n: p["local"]["state"] for n, p in (await _status(proxy)).items()}
            assert locals_[name] == "ready"
            assert list(locals_.values()).count("ready") == 1, locals_
    async with proxy.get("/metrics") as resp:
        text = await resp.text()
    assert 'proxyd_local_stops_total{provider="alpha",reason="room"} 3.0' in text
    assert 'proxyd_local_stops_total{provider="beta",reason="room"} 2.0' in text


async def test_concurrent_requests_to_two_models_under_max_running_1_all_succeed(proxy_factory: Factory) -> None:
    proxy = await proxy_factory(
        {"providers": [fake_provider("alpha"), fake_provider("beta")], "local": {"max_running": 1}}
    )
    names = ["alpha", "beta"] * 4
    answers = await asyncio.gather(*(_chat(proxy, name, name) for name in names))
    assert [status for status, _ in answers] == [200] * len(names)


async def test_a_memory_budget_stops_the_least_recently_used_idle_server(proxy_factory: Factory) -> None:
    servers = [fake_provider(n, memory="3GiB") for n in ("one", "two", "three")]
    proxy = await proxy_factory({"providers": servers, "local": {"memory": "7GiB"}})
    for name in ("one", "two", "one", "three"):
        assert (await _chat(proxy, name))[0] == 200
    states = {n: p["local"]["state"] for n, p in (await _status(proxy)).items()}
    assert states == {"one": "ready", "two": "stopped", "three": "ready"}  # two was used least recently


async def test_an_idle_server_is_stopped_after_idle_unload_s(proxy_factory: Factory) -> None:
    fake = fake_provider("gemma", idle_unload_s=1)
    proxy = await proxy_factory({"providers": [fake]})
    assert (await _chat(proxy, "gemma"))[0] == 200
    pid = (await _local(proxy, "gemma"))["pid"]

    async def stopped() -> bool:
        return (await _local(proxy, "gemma"))["state"] == "stopped"

    await eventually(stopped, "the idle server stopped")
    assert not alive(pid) and not listening(_port(fake))
    assert (await _chat(proxy, "gemma"))[0] == 200  # and starts again on demand


async def test_a_server_is_not_stopped_while_a_request_to_it_is_in_flight(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma", idle_unload_s=0.5)]})
    local = proxy.app[LOCAL]
    assert (await _chat(proxy, "gemma"))[0] == 200
    server = local.servers["gemma"]
    local.hold(server)  # as a long stream does
    try:
        await asyncio.sleep(2.0)
        assert server.state == "ready"
    finally:
        await local.release(server)


async def test_a_server_killed_while_idle_is_red_and_restarts_on_the_next_request(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma")]})
    assert (await _chat(proxy, "gemma"))[0] == 200
    pid = (await _local(proxy, "gemma"))["pid"]
    os.kill(pid, signal.SIGKILL)

    async def crashed() -> dict[str, Any] | None:
        found = (await _status(proxy))["gemma"]
        return found if found["local"]["state"] == "crashed" else None

    shown = await eventually(crashed, "the crash seen")
    assert shown["state"] == "unreachable" and "exited with code -9" in shown["error"]
    # with its code, so the page says it (and what to do) in its reader's language
    assert shown["local"]["diagnosis"] == {"code": "local_exited_serving", "fix_code": "local_exited_serving",
                                           "params": {"name": "gemma", "code": -9}, "via": ""}  # fmt: skip
    assert any("model loaded" in line for line in shown["local"]["last_lines"])
    status, body = await _chat(proxy, "gemma", "again")
    assert status == 200, body
    again = await _status(proxy)
    assert again["gemma"]["local"]["state"] == "ready" and again["gemma"]["local"]["pid"] != pid
    assert again["gemma"]["state"] == "ok"


async def test_a_server_that_crashes_while_loading_answers_its_output_and_backs_off(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma", extra=("--crash-on-load",))]})
    status, body = await _chat(proxy, "gemma")
    assert status == 503
    message = body["error"]["message"]
    assert "exited with code 1 while loading" in message and "failed to load model" in message
    assert body["error"]["code"] == "local_server_failed"
    async with proxy.post("/v1/chat/completions", json=chat("gemma")) as resp:
        assert resp.status == 503
        assert int(resp.headers["Retry-After"]) >= 1  # the next start waits: no crash loop
        assert "starts it again in" in (await resp.json())["error"]["message"]
    async with proxy.post("/v1/messages", json={**chat("gemma"), "max_tokens": 10}) as resp:
        shaped = await resp.json()
    assert shaped["type"] == "error" and shaped["error"]["type"] == "api_error"  # Anthropic's shape on its path


async def test_a_command_that_cannot_run_says_so(proxy_factory: Factory) -> None:
    broken = {**fake_provider("gemma"), "command": ["/nonexistent/llama-server", "-m", "x.gguf"]}
    proxy = await proxy_factory({"providers": [broken]})
    status, body = await _chat(proxy, "gemma")
    assert status == 503
    assert "could not be started: No such file or directory (/nonexistent/llama-server)" in body["error"]["message"]


async def _stream_lines(proxy: ProxyClient, path: str, body: dict[str, Any]) -> tuple[int, list[str]]:
    async with proxy.post(path, json=body) as resp:
        text = (await resp.read()).decode()
    return resp.status, [line for line in text.split("\n") if line]


async def test_a_stream_waiting_for_a_load_gets_keepalive_comments_then_its_answer(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma", load_s=4.5)]})
    status, lines = await _stream_lines(proxy, "/v1/chat/completions", chat("gemma", "hello", stream=True))
    assert status == 200
    comments = [line for line in lines if line.startswith(":")]
    assert len(comments) >= 2 and "starting local server gemma" in comments[0]
    data = [line for line in lines if line.startswith("data:")]
    assert data[-1] == "data: [DONE]"
    text = "".join(json.loads(d[5:])["choices"][0]["delta"].get("content") or "" for d in data[:-1]
                   if json.loads(d[5:])["choices"])  # fmt: skip
    assert text == "Hello! You said: hello"
    assert lines.index(comments[-1]) < lines.index(data[0])  # the comments come before the answer


async def test_a_stream_whose_server_fails_to_load_ends_with_an_error_event(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma", load_s=3, extra=("--crash-on-load",))]})
    body = {"model": "gemma", "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    status, lines = await _stream_lines(proxy, "/v1/messages", body)
    assert status == 200 and lines[0].startswith(": proxyd is starting")
    assert lines[-2] == "event: error"  # Anthropic's error event, never a clean message_stop
    assert "failed to load model" in json.loads(lines[-1][5:])["error"]["message"]


async def test_a_reload_that_removes_or_changes_a_provider_stops_its_server(tmp_path: Path) -> None:
    gemma, other = fake_provider("gemma"), fake_provider("other")
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"listen": {"port": 0}, "health": {"interval_s": 0}, "providers": [gemma, other],
                                    "store": {"enabled": False}, "ledger": {"enabled": False}}))  # fmt: skip
    running = await start(load_config(path), str(path), ReloadFrom(path, watch=False))
    try:
        local = running.app[LOCAL]
        await local.start("gemma")
        await local.start("other")
        gone = local.servers["gemma"].proc
        changed = local.servers["other"].proc
        assert gone is not None and changed is not None
        other["command"]["argv"] += ["--ctx", "1024"]  # a new command: the running one is not it
        path.write_text(yaml.safe_dump({"listen": {"port": 0}, "health": {"interval_s": 0}, "providers": [other],
                                        "store": {"enabled": False}, "ledger": {"enabled": False}}))  # fmt: skip
        assert await running.app[RELOADS].reload("test")
        await eventually(lambda: _gone(gone.pid), "the removed provider's server stopped")
        await eventually(lambda: _gone(changed.pid), "the changed provider's server stopped")
        assert set(local.servers) == {"other"} and local.servers["other"].state == "stopped"
    finally:
        await running.runner.cleanup()


async def _gone(pid: int) -> bool:
    return not alive(pid)


async def test_proxyd_killed_with_sigkill_leaves_no_server_behind(tmp_path: Path) -> None:
    fake = fake_provider("gemma")
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"health": {"interval_s": 0}, "providers": [fake]}))
    proc, url = await start_serve(path)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/chat/completions", json=chat("gemma")) as resp:
                assert resp.status == 200
            async with session.get(f"{url.removesuffix('/v1')}/status") as resp:
                pid = {p["name"]: p for p in (await resp.json())["providers"]}["gemma"]["local"]["pid"]
        assert alive(pid)
        proc.kill()  # SIGKILL: nothing of proxyd runs to stop its children
        await proc.wait()
        await eventually(lambda: _gone(pid), "the server died with proxyd (its parent-death signal)")
        assert not listening(_port(fake))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_proxyd_stopped_with_sigterm_stops_its_servers(tmp_path: Path) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"health": {"interval_s": 0}, "providers": [fake_provider("gemma")]}))
    proc, url = await start_serve(path)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/chat/completions", json=chat("gemma")) as resp:
            assert resp.status == 200
        async with session.get(f"{url.removesuffix('/v1')}/status") as resp:
            pid = {p["name"]: p for p in (await resp.json())["providers"]}["gemma"]["local"]["pid"]
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert not alive(pid)


async def test_a_small_context_lowers_max_tokens_and_refuses_a_prompt_past_it_plainly(proxy_factory: Factory) -> None:
    proxy = await proxy_factory({"providers": [fake_provider("gemma", ctx=1024)]})
    ask = {"model": "gemma", "max_tokens": 32000, "messages": [{"role": "user", "content": "hi"}]}  # Claude Code's
    async with proxy.post("/v1/messages", json=ask) as resp:
        assert resp.status == 200, await resp.text()
    seen = [line for line in proxy.app[LOCAL].servers["gemma"].lines if "max_tokens=" in line]
    sent = int(seen[-1].rsplit("=", 1)[1])
    assert 900 < sent < 1024  # what fits beside the prompt in the context its /props gave
    long = {**ask, "messages": [{"role": "user", "content": "hello world " * 800}]}
    async with proxy.post("/v1/messages", json=long) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("prompt is too long: ") and "> 1024 maximum" in error["message"]
    async with proxy.post("/v1/chat/completions", json={**long, "max_tokens": 10}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "context_length_exceeded"


async def test_workers_refuse_a_config_with_local_servers(tmp_path: Path) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"providers": [fake_provider("gemma")]}))
    code, _, err = await arun("serve", "--config", str(path), "--port", "0", "--workers", "2")
    assert code == 2 and "providers gemma have a command" in err and "drop --workers" in err


async def test_a_group_moves_on_from_a_local_server_that_fails_to_start(proxy_factory: Factory) -> None:
    broken = fake_provider("broken", extra=("--crash-on-load",))
    proxy = await proxy_factory(
        {
            "providers": [broken, fake_provider("gemma")],
            "groups": [{"alias": "main", "targets": ["broken/broken", "gemma/gemma"]}],
        }
    )
    async with proxy.post("/v1/chat/completions", json=chat("main", "hello")) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["x-proxyd-provider"] == "gemma"
    assert (await _local(proxy, "broken"))["state"] == "crashed"


async def test_a_providers_models_each_with_a_server_take_turns_on_its_port(proxy_factory: Factory) -> None:
    first = fake_provider("qwen")
    port = _port(first)
    second = fake_provider("gemma")
    second["command"]["argv"][second["command"]["argv"].index("--port") + 1] = str(port)  # the same port
    provider = {"name": "llama", "base_url": first["base_url"], "wire": "chat", "models": [
        {"id": "qwen", "command": first["command"], "ready": first["ready"]},
        {"id": "gemma", "command": second["command"], "ready": second["ready"]},
    ]}  # fmt: skip
    proxy = await proxy_factory({"providers": [provider]})
    for text in ("one", "two", "three"):
        for model in ("qwen", "gemma"):
            status, body = await _chat(proxy, model, text)
            assert status == 200, body
            assert body["model"] == model  # the server for this model answered, not the other's
            states = {m: v["state"] for m, v in (await _status(proxy))["llama"]["local_models"].items()}
            assert states == {"qwen": "stopped", "gemma": "stopped", model: "ready"}


async def test_a_key_in_a_servers_command_never_reaches_the_log(proxy_factory: Factory, capsys: Any) -> None:
    fake = fake_provider("gemma", extra=("--api-key", "${LLAMA_KEY}", "--secret-env", "HF_TOKEN"))
    fake["command"]["env"]["HF_TOKEN"] = "hf_abcdefghijklmnop"
    proxy = await proxy_factory({"providers": [fake]}, env={"LLAMA_KEY": "sk-local-0123456789"})
    assert (await _chat(proxy, "gemma"))[0] == 200
    lines = list(proxy.app[LOCAL].servers["gemma"].lines)
    assert any("--api-key [" in line and "redacted]" in line for line in lines)
    assert any("HF_TOKEN=[redacted]" in line for line in lines)
    assert not any("sk-local-0123456789" in line or "hf_abcdefghijklmnop" in line for line in lines)
    out = capsys.readouterr()
    assert "sk-local-0123456789" not in out.out + out.err and "hf_abcdefghijklmnop" not in out.out + out.err


async def test_a_group_stream_opened_during_a_load_ends_with_an_error_event_when_every_target_fails(
    proxy_factory: Factory,
) -> None:
    a = fake_provider("one", load_s=2.5, extra=("--crash-on-load",))
    b = fake_provider("two", load_s=2.5, extra=("--crash-on-load",))
    proxy = await proxy_factory({"providers": [a, b], "groups": [{"alias": "main", "targets": ["one/one", "two/two"]}]})
    body = {"model": "main", "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    status, lines = await _stream_lines(proxy, "/v1/messages", body)
    assert status == 200 and lines[0].startswith(": proxyd is starting local server one")
    assert any("local server two" in line for line in lines if line.startswith(":"))  # it moved on, in the same stream
    assert lines[-2] == "event: error"  # the group's last failure, as Anthropic's error event: never a clean end
