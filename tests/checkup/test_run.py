"""`proxyd check` as a real process against fake upstreams that produce each diagnosis."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import FakeUpstream
from tests.helpers import arun, write
from tests.page.fakes import ollama_like
from tests.test_upstream import self_signed  # noqa: F401  (a fixture)

KEY = "sk-check-secret-key-987654321"


def sse_ok(wire: str = "chat") -> bytes:
    if wire == "responses":
        return (
            b'event: response.completed\ndata: {"type": "response.completed", "response": {"status": "completed"}}\n\n'
        )
    return (
        b'data: {"choices": [{"index": 0, "delta": {"content": "OK"}, "finish_reason": "length"}]}\n\ndata: [DONE]\n\n'
    )


async def stream(request: web.Request, body: bytes) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(body)
    return resp


def config_for(tmp_path: Path, *providers: str) -> Path:
    entries = "".join(f"  - {p}\n" for p in providers)
    return write(tmp_path / "c.yaml", f"providers:\n{entries}")


async def check(config: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, err = await arun("check", "--json", "--timeout", "2", "--config", str(config), *args, env={"KEY": KEY})
    assert KEY not in out + err
    return code, json.loads(out)


async def test_a_working_provider_passes_with_latency_and_a_curl_command(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    async def ok(request: web.Request) -> web.StreamResponse:
        return await stream(request, sse_ok())

    upstream.handler = ok
    config = config_for(
        tmp_path,
        f"{{name: p, base_url: '{upstream.base_url}', wire: chat, api_key: '${{KEY}}', default_model: m,"
        " headers: {X-Title: proxyd, X-Api-Key: '${KEY}'}}",
    )
    code, out, _ = await arun("check", "--config", str(config), env={"KEY": KEY})
    assert code == 0 and KEY not in out
    head = out.splitlines()[0].split()
    assert head[:2] == ["p", "OK"] and head[3:] == ["ms", "chat", "m"]
    sent = upstream.last.json()
    assert sent == {"model": "m", "messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 1, "stream": True}
    assert upstream.last.headers["Authorization"] == f"Bearer {KEY}"
    assert '"Authorization: Bearer $KEY"' in out and '"X-Api-Key: $X_API_KEY"' in out and "'X-Title: proxyd'" in out


async def test_wire_auto_falls_back_to_chat_and_says_so(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def chat_only(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/responses"):
            return web.Response(status=404, text="404 page not found")
        return await stream(request, sse_ok())

    upstream.handler = chat_only
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{upstream.base_url}', default_model: m}}"))
    assert code == 0 and v["ok"] and v["wire"] == "chat"
    assert any("no /responses here" in n for n in v["notes"])
    assert [s.path for s in upstream.seen] == ["/v1/responses", "/v1/chat/completions"]
    assert upstream.seen[0].json()["max_output_tokens"] == 16


async def test_404_tries_the_other_base_url_forms(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def only_v1(request: web.Request) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return web.Response(status=404, text="not found")
        return await stream(request, sse_ok())

    upstream.handler = only_v1
    origin = upstream.base_url.removesuffix("/v1")
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{origin}', wire: chat, default_model: m}}"))
    assert code == 1 and not v["ok"]
    assert "404" in v["cause"] and v["fix"].startswith(f"set base_url: {origin}/v1")


@pytest.fixture
async def known_port_upstream(aiohttp_server: Any) -> FakeUpstream:
    """A fake upstream on the port of a service proxyd knows (LM Studio's 1234, LiteLLM's 4000...),
    so a bare URL to it gets ``/v1`` added."""
    for port in (1234, 4000, 11434, 8000):
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue  # in use here: try the next known port
        fake = FakeUpstream()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", fake._handle)
        fake.server = await aiohttp_server(app, host="127.0.0.1", port=port)
        return fake
    pytest.skip("every port of a known local service is in use on this machine")


@pytest.mark.parametrize(
    ("api_at", "ok", "wanted"),
    [
        ("/v1/", True, "base_url had no path: proxyd added /v1, and http://127.0.0.1:{port}/v1/chat/completions works"),
        ("/", False, "set add_api_path: false for this provider"),
    ],
)
async def test_check_says_which_form_of_a_completed_url_works(
    tmp_path: Path, known_port_upstream: FakeUpstream, api_at: str, ok: bool, wanted: str
) -> None:
    async def api(request: web.Request) -> web.StreamResponse:
        if request.path != api_at.rstrip("/") + "/chat/completions":
            return web.Response(status=404, text="not found")
        return await stream(request, sse_ok())

    known_port_upstream.handler = api
    port = known_port_upstream.base_url.split(":")[2].split("/")[0]
    bare = f"http://127.0.0.1:{port}"
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{bare}', wire: chat, default_model: m}}"))
    assert (code == 0, v["ok"]) == (ok, ok)
    assert wanted.format(port=port) in (v["notes"][-1] if ok else v["fix"])
    if not ok:  # and the advice holds: with it, the same server passes
        fixed = f"{{name: p, base_url: '{bare}', add_api_path: false, wire: chat, default_model: m}}"
        code, (v,) = await check(config_for(tmp_path, fixed))
        assert code == 0 and v["ok"] and not v["notes"]


async def test_key_rejected(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def reject(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": f"Incorrect API key provided: {KEY}"}}, status=401)

    upstream.handler = reject
    code, (v,) = await check(
        config_for(
            tmp_path, f"{{name: p, base_url: '{upstream.base_url}', wire: chat, default_model: m, api_key: '${{KEY}}'}}"
        )
    )
    assert code == 1 and "rejected the key" in v["cause"] and "env KEY" in v["fix"]


async def test_connection_refused(tmp_path: Path) -> None:
    code, (v,) = await check(config_for(tmp_path, "{name: p, base_url: 'http://127.0.0.1:1/v1', default_model: m}"))
    assert code == 1 and "connection refused" in v["cause"] and "not running" in v["fix"]


async def test_self_signed_certificate(
    tmp_path: Path,
    aiohttp_server: Callable[..., Awaitable[Any]],
    self_signed: ssl.SSLContext,  # noqa: F811
) -> None:
    app = web.Application()
    server = await aiohttp_server(app, ssl=self_signed)
    base = f"https://127.0.0.1:{server.port}/v1"
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{base}', wire: chat, default_model: m}}"))
    assert code == 1 and "not trusted" in v["cause"] and "CA" in v["fix"]


async def test_stalled_and_unstreamed_answers(tmp_path: Path, upstream_factory: Any) -> None:
    stall, plain = await upstream_factory(), await upstream_factory()

    async def stalls(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await asyncio.sleep(30)
        return resp

    async def not_a_stream(request: web.Request) -> web.Response:
        return web.json_response({"choices": [{"message": {"content": "OK"}}]})

    stall.handler, plain.handler = stalls, not_a_stream
    config = config_for(
        tmp_path,
        f"{{name: stall, base_url: '{stall.base_url}', wire: chat, default_model: m}}",
        f"{{name: plain, base_url: '{plain.base_url}', wire: chat, default_model: m}}",
    )
    code, verdicts = await check(config)
    by_name = {v["provider"]: v for v in verdicts}
    assert code == 1
    assert "stalled" in by_name["stall"]["cause"] and "buffered" in by_name["stall"]["fix"]
    assert "not a stream" in by_name["plain"]["cause"] and "streaming: false" in by_name["plain"]["fix"]
    code, only = await check(config, "plain")
    assert [v["provider"] for v in only] == ["plain"]


async def test_unknown_model_lists_what_the_provider_has(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def picky(request: web.Request) -> web.Response:
        if request.path.endswith("/models"):
            return web.json_response({"data": [{"id": "llama3.2"}, {"id": "qwen3:8b"}]})
        return web.json_response({"error": "model 'lama3' not found, try pulling it first"}, status=404)

    upstream.handler = picky
    code, (v,) = await check(
        config_for(tmp_path, f"{{name: p, base_url: '{upstream.base_url}', wire: chat, default_model: lama3}}")
    )
    assert code == 1 and "does not know the model 'lama3'" in v["cause"]
    assert "llama3.2, qwen3:8b" in v["fix"]


async def test_no_model_configured_probes_the_first_listed(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return web.json_response({"data": [{"id": "only-model"}]})
        return await stream(request, sse_ok())

    upstream.handler = answer
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{upstream.base_url}', wire: chat}}"))
    assert code == 0 and v["model"] == "only-model"


async def test_a_dead_provider_without_a_model_is_diagnosed_as_dead(tmp_path: Path) -> None:
    code, (v,) = await check(config_for(tmp_path, "{name: p, base_url: 'http://127.0.0.1:1/v1', wire: chat}"))
    assert code == 1 and "connection refused" in v["cause"] and "not running" in v["fix"]
    assert "default_model" not in v["cause"] + v["fix"]
    assert "http://127.0.0.1:1/v1/chat/completions" in v["curl"]
    # The model is left to the shell: the JSON quote is closed around "$MODEL".
    assert """-d '{"model": "'"$MODEL"'", "messages\"""" in v["curl"]


async def test_a_provider_without_a_model_whose_listing_rejects_the_key(tmp_path: Path, upstream: FakeUpstream) -> None:
    async def reject(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": f"Incorrect API key provided: {KEY}"}}, status=401)

    upstream.handler = reject
    config = config_for(tmp_path, f"{{name: p, base_url: '{upstream.base_url}', wire: chat, api_key: '${{KEY}}'}}")
    code, (v,) = await check(config)
    assert code == 1 and "rejected the key" in v["cause"] and "env KEY" in v["fix"]
    assert v["curl"] is not None and "$MODEL" in v["curl"]


async def test_a_provider_that_answers_but_lists_no_model_needs_a_default_model(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    async def empty(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": []})

    upstream.handler = empty
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{upstream.base_url}'}}"))
    assert code == 1 and "GET /models listed none" in v["cause"] and "set default_model" in v["fix"]
    assert "/responses" in v["curl"] and "$MODEL" in v["curl"]  # wire: auto tries /responses first


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            404,
            {"error": {"message": "Invalid URL (POST /v1/responses)", "type": "invalid_request_error", "code": None}},
        ),
        (200, {"error": "Unexpected endpoint or method. (POST /v1/responses)"}),
    ],
)
async def test_wire_auto_check_falls_back_on_api_shaped_missing_routes(
    tmp_path: Path, upstream: FakeUpstream, status: int, body: dict[str, Any]
) -> None:
    async def chat_only(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/responses"):
            return web.json_response(body, status=status)
        return await stream(request, sse_ok())

    upstream.handler = chat_only
    code, (v,) = await check(config_for(tmp_path, f"{{name: p, base_url: '{upstream.base_url}', default_model: m}}"))
    assert code == 0 and v["ok"] and v["wire"] == "chat"
    assert any(f"POST /responses answered {status}" in n for n in v["notes"])


async def test_an_anthropic_provider_is_probed_on_its_own_wire(tmp_path: Path, upstream: FakeUpstream) -> None:
    from tests.fakes.anthropic import anthropic_server

    upstream.handler = anthropic_server
    config = config_for(
        tmp_path,
        f"{{name: claude, base_url: '{upstream.base_url}/messages', api_key: sk-ant-test, default_model: claude-x}}",
    )
    code, (v,) = await check(config)
    assert code == 0 and v["ok"] and v["wire"] == "anthropic", v
    assert upstream.last.path == "/v1/messages" and upstream.last.json()["max_tokens"] == 1
    assert '"x-api-key: $KEY"' in v["curl"] and "sk-ant-test" not in v["curl"]


async def test_check_probes_every_target_of_a_model_group(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.handler = ollama_like(("qwen3", "llama3.2"))
    config = write(
        tmp_path / "c.yaml",
        f"""providers:
  - {{name: local, base_url: "{upstream.base_url}", wire: chat, default_model: llama3.2}}
  - {{name: down, base_url: "http://127.0.0.1:9/v1", wire: chat}}
groups:
  - {{alias: main, targets: [local/qwen3, down/qwen3]}}
""",
    )
    code, verdicts = await check(config, "main")
    assert code == 1
    assert [(v["provider"], v["ok"], v["model"]) for v in verdicts] == [
        ("main: local/qwen3", True, "qwen3"), ("main: down/qwen3", False, "qwen3")]  # fmt: skip
    assert "connection refused" in verdicts[1]["cause"]
    code, verdicts = await check(config, "local")  # a provider, and the group targets it serves
    assert [v["provider"] for v in verdicts] == ["local", "main: local/qwen3"] and code == 0
    assert verdicts[0]["model"] == "llama3.2"
