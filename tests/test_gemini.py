"""The Gemini wire end to end: the google-genai SDK (strict types) against proxyd in front of a
chat provider, and the openai and anthropic SDKs against proxyd in front of a strict fake of
Google's API (tests.fakes.gemini)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors, types

from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.echo import chat_server
from tests.fakes.gemini import KEY, SIGNATURE, gemini_server

Factory = Callable[..., Awaitable[ProxyClient]]
TOKEN = "proxyd-token-0123456789"


@pytest.fixture
async def proxy_to_chat(proxy_factory: Factory, upstream: FakeUpstream) -> ProxyClient:
    """proxyd with a token, in front of a chat-only provider; ``flash`` is an alias of its model."""
    upstream.handler = chat_server
    return await proxy_factory({
        "listen": {"token": TOKEN},
        "providers": [{"name": "llama", "base_url": upstream.base_url, "wire": "chat",
                       "models": [{"id": "qwen3", "alias": "gemini-2.5-flash", "context_window": 32768}]}],
    })  # fmt: skip


@pytest.fixture
async def sdk(proxy_to_chat: ProxyClient) -> AsyncIterator[genai.Client]:
    client = genai.Client(api_key=TOKEN, http_options=types.HttpOptions(base_url=proxy_to_chat.origin))
    yield client
    await client.aio.aclose()


async def test_generate_through_a_chat_provider(
    sdk: genai.Client, proxy_to_chat: ProxyClient, upstream: FakeUpstream
) -> None:
    answer = await sdk.aio.models.generate_content(
        model="gemini-2.5-flash", contents="hello", config=types.GenerateContentConfig(max_output_tokens=100)
    )
    assert answer.text == "Hello! You said: hello"
    assert answer.candidates and answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.usage_metadata and answer.usage_metadata.prompt_token_count == 10
    sent = upstream.last.json()
    assert sent["model"] == "qwen3" and sent["max_tokens"] == 100  # the alias routed, the limit crossed
    assert TOKEN not in str(upstream.last.headers) and "x-goog-api-key" not in upstream.last.headers


async def test_stream_through_a_chat_provider(sdk: genai.Client) -> None:
    chunks = [c async for c in await sdk.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")]
    assert "".join(c.text or "" for c in chunks) == "Hello! You said: hi"
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata and last.usage_metadata.total_token_count == 15


async def test_a_tool_call_and_its_response_through_a_chat_provider(sdk: genai.Client, upstream: FakeUpstream) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="exec_command", description="Run a command.",
        parameters_json_schema={"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]})])  # fmt: skip
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    first = await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="call a tool", config=config)
    calls = first.function_calls or []
    assert [(c.name, c.args) for c in calls] == [("exec_command", {"cmd": "echo hi"})]
    assert calls[0].id  # the call's id, for the response to name
    history = [
        types.Content(role="user", parts=[types.Part(text="call a tool")]),
        first.candidates[0].content,  # type: ignore[index,union-attr]
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id=calls[0].id, name="exec_command", response={"output": "hi"}
                    )
                )
            ],
        ),
    ]
    second = await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents=history, config=config)  # type: ignore[arg-type]
    assert second.text == "Hello! You said: tool-output"
    sent = upstream.last.json()["messages"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] and sent[2]["content"] == "hi"


async def test_thoughts_come_back_when_asked(sdk: genai.Client) -> None:
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    )
    answer = await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="think", config=config)
    parts = answer.candidates[0].content.parts  # type: ignore[index,union-attr]
    assert [(p.thought, p.text) for p in parts or []] == [(True, "Let me think."), (None, "42")]


async def test_count_tokens_and_the_model_list(sdk: genai.Client) -> None:
    counted = await sdk.aio.models.count_tokens(model="gemini-2.5-flash", contents="hello world " * 50)
    assert counted.total_tokens and counted.total_tokens > 50
    names = [m.name async for m in await sdk.aio.models.list(config={"page_size": 1})]  # paged one at a time
    assert "models/gemini-2.5-flash" in names and "models/llama/qwen3" in names
    model = await sdk.aio.models.get(model="gemini-2.5-flash")
    assert model.input_token_limit == 32768


async def test_errors_come_in_googles_shape(sdk: genai.Client, proxy_to_chat: ProxyClient) -> None:
    with pytest.raises(errors.ClientError) as missing:
        await sdk.aio.models.generate_content(model="no-such-model", contents="hi")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    assert "no-such-model" in (missing.value.message or "")
    stranger = genai.Client(api_key="wrong-token", http_options=types.HttpOptions(base_url=proxy_to_chat.origin))
    with pytest.raises(errors.ClientError) as refused:
        await stranger.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert refused.value.code == 401 and refused.value.status == "UNAUTHENTICATED"
    await stranger.aio.aclose()
    async with proxy_to_chat.post(f"/v1beta/models/gemini-2.5-flash:generateContent?key={TOKEN}",
                                  json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                                        "generationConfig": {"candidateCount": 2}}) as resp:  # fmt: skip
        assert resp.status == 400
        body = await resp.json()
    assert body["error"]["status"] == "INVALID_ARGUMENT" and "candidateCount" in body["error"]["message"]


async def test_a_cut_stream_reaches_the_sdk_as_an_error(sdk: genai.Client) -> None:
    with pytest.raises(errors.APIError) as cut:
        async for _ in await sdk.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="break"):
            pass
    assert "CUDA error" in str(cut.value)


@pytest.fixture
async def proxy_to_gemini(proxy_factory: Factory, upstream: FakeUpstream) -> ProxyClient:
    upstream.handler = gemini_server
    base = upstream.base_url.removesuffix("/v1") + "/v1beta"
    return await proxy_factory({"providers": [
        {"name": "google", "base_url": base, "wire": "gemini", "api_key": KEY,
         "models": ["gemini-2.5-pro", {"id": "gemini-3-pro-preview", "alias": "g3"}]}]})  # fmt: skip


async def test_the_openai_sdk_through_a_gemini_provider(proxy_to_gemini: ProxyClient, upstream: FakeUpstream) -> None:
    async with openai.AsyncOpenAI(base_url=f"{proxy_to_gemini.origin}/v1", api_key="x", max_retries=0) as client:
        answer = await client.chat.completions.create(
            model="gemini-2.5-pro", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "Hello! You said: hi" and answer.usage.total_tokens == 15  # type: ignore[union-attr]
        assert upstream.last.path == "/v1beta/models/gemini-2.5-pro:generateContent"
        stream = await client.chat.completions.create(model="gemini-2.5-pro", stream=True,
                                                      messages=[{"role": "user", "content": "again"}])  # fmt: skip
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "Hello! You said: again"
        assert upstream.last.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        assert upstream.last.headers["x-goog-api-key"] == KEY


async def test_claude_code_through_a_thinking_gemini_keeps_the_signature(proxy_to_gemini: ProxyClient) -> None:
    tools: Any = [{"name": "run_shell_command", "description": "Run.", "input_schema": {"type": "object"}}]
    async with anthropic.AsyncAnthropic(base_url=proxy_to_gemini.origin, api_key="x", max_retries=0) as client:
        async with client.messages.stream(model="g3", max_tokens=1000, tools=tools,
                                          messages=[{"role": "user", "content": "call a tool"}]) as stream:  # fmt: skip
            first = await stream.get_final_message()
        assert first.stop_reason == "tool_use"
        call = next(b for b in first.content if b.type == "tool_use")
        assert call.name == "run_shell_command" and call.input == {"command": "echo hi"}
        # the next turn: the fake refuses a gemini-3 call without its signature, as Google does
        follow: Any = [{"role": "user", "content": "call a tool"},
                       {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}]},
                       {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "hi"}]}]  # fmt: skip
        async with client.messages.stream(model="g3", max_tokens=1000, tools=tools, messages=follow) as stream:
            second = await stream.get_final_message()
    assert second.content[0].type == "text" and second.content[0].text == "Hello! You said: tool-output"
    assert SIGNATURE not in call.id  # carried encoded, under proxyd's mark


async def test_a_gemini_client_to_a_gemini_provider_by_alias(
    proxy_to_gemini: ProxyClient, upstream: FakeUpstream
) -> None:
    client = genai.Client(api_key="anything", http_options=types.HttpOptions(base_url=proxy_to_gemini.origin))
    answer = await client.aio.models.generate_content(model="g3", contents="hi")
    assert answer.text == "Hello! You said: hi"
    assert upstream.last.path == "/v1beta/models/gemini-3-pro-preview:generateContent"  # the alias's model
    assert upstream.last.headers["x-goog-api-key"] == KEY  # the provider's key, not the client's
    counted = await client.aio.models.count_tokens(model="g3", contents="hello")
    assert counted.total_tokens is not None and upstream.last.path == "/v1beta/models/gemini-3-pro-preview:countTokens"
    await client.aio.aclose()


async def test_check_and_the_health_probe_of_a_gemini_provider(
    proxy_to_gemini: ProxyClient, upstream: FakeUpstream
) -> None:
    from proxyd.checkup.run import check_providers
    from proxyd.probes import probe_models
    from proxyd.runtime import RUNTIME
    from proxyd.upstream import create_session

    config = proxy_to_gemini.app[RUNTIME].current.config
    verdict = (await check_providers(config, ["google"], 5.0))[0]
    assert verdict.ok, verdict
    assert any(s.path.startswith("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse") for s in upstream.seen)
    session = create_session(config.tcp_keepalive, config.providers[0].tls)
    try:
        listed = await probe_models(session, config.providers[0], 5.0)
    finally:
        await session.close()
    assert listed.status == 200 and [m.id for m in listed.models or ()] == [
        "gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview"]  # both pages, by nextPageToken  # fmt: skip
    assert listed.models is not None and listed.models[0].context_window == 1048576


async def test_gemini_cli_takes_a_cut_stream_as_an_error_never_as_an_answer(
    tmp_path: Any, upstream: FakeUpstream
) -> None:
    """The chat provider breaks off mid-answer (half a reply, then its error): Gemini CLI 0.61 gets
    Google's error object and no finishReason, and reports the turn failed (in its JSON output, with
    exit status 0 in that mode), never a finished answer."""
    import asyncio
    import json
    import os
    import signal

    from clients.install import CannotInstall, installed
    from clients.versions import CLIENTS
    from tests.helpers import start_serve

    try:
        program = await asyncio.to_thread(installed, CLIENTS["gemini-cli"], "0.61.0")
    except CannotInstall as exc:
        pytest.skip(f"Gemini CLI cannot be installed here: {exc}")

    async def breaks_off(request: Any) -> Any:  # half a reply, then the server's own error, mid-stream
        from aiohttp import web

        from tests.fakes import chat_chunk

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chat_chunk({"role": "assistant", "content": "Half"}))
        await resp.write(b'data: {"error": {"message": "CUDA error: out of memory"}}\n\n')
        return resp

    upstream.handler = breaks_off
    config = tmp_path / "proxyd.yaml"
    config.write_text(f"health: {{interval_s: 0}}\ndefault_provider: llama\nproviders:\n"
                      f"  - {{name: llama, base_url: '{upstream.base_url}', wire: chat}}\n")  # fmt: skip
    proc, url = await start_serve(config, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert proc.stderr is not None
    drain = asyncio.ensure_future(proc.stderr.read())
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(
        {"security": {"auth": {"selectedType": "gemini-api-key"}}, "general": {"maxAttempts": 1}}))  # fmt: skip
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "GOOGLE_GEMINI_BASE_URL": url.removesuffix("/v1"),
           "GEMINI_API_KEY": "anything", "GEMINI_CLI_NO_RELAUNCH": "true", "GEMINI_CLI_TRUST_WORKSPACE": "true"}  # fmt: skip
    try:
        cli = await asyncio.create_subprocess_exec(
            *program, "-p", "break", "--output-format", "json", "-m", "gemini-2.5-flash", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)  # fmt: skip
        out, _ = await asyncio.wait_for(cli.communicate(), 180)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        drain.cancel()
    said = out.decode(errors="replace")
    result = json.loads(said[said.find("{") :])
    # Gemini CLI fails the turn: the stream had no finishReason (it ended in Google's error object)
    assert result["error"]["type"] == "INVALID_STREAM", said[-800:]
    assert result["stats"]["models"]["gemini-2.5-flash"]["api"]["totalErrors"] == 1


async def test_a_token_sent_as_key_never_reaches_a_provider_on_any_path(
    proxy_to_chat: ProxyClient, upstream: FakeUpstream
) -> None:
    chat = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    async with proxy_to_chat.post(f"/v1/chat/completions?key={TOKEN}&trace=1", json=chat) as resp:
        assert resp.status == 200  # the token, as Gemini's clients send it, on an OpenAI path
    assert upstream.last.path == "/v1/chat/completions?trace=1" and TOKEN not in str(upstream.last.headers)
    async with proxy_to_chat.post("/v1/chat/completions?key=wrong", json=chat) as resp:
        assert resp.status == 401
