"""`wire: auto` against the ways real servers answer a path they lack, and an unknown model.

The bodies are the servers' own: OpenAI's API (and gateways built like it), llama.cpp's older C++
server, FastAPI servers (vLLM's unknown-model body is its own shape), Go servers (Ollama), Express
servers, and a desktop app that answers unknown paths with a 200 error object.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from aiohttp import web

from proxyd.autowire import MOVES, chat_verdict, missing_route, next_wire, reason, refusal, responses_only, showed
from tests.conftest import FakeUpstream, ProxyClient
from tests.fakes.echo import answer_chat

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
MODEL = "qwen3"


@dataclass(frozen=True)
class Server:
    """How one kind of server answers ``POST /v1/responses`` (which it lacks) and an unknown model."""

    missing: tuple[int, str, str]  # status, content type, body
    unknown_model: tuple[int, str] | None  # status and JSON body for a model it does not have; None: serves any


SERVERS = {
    "openai-like": Server(
        (404, "application/json", json.dumps({"error": {"message": "Invalid URL (POST /v1/responses)", "type": "invalid_request_error", "param": None, "code": None}})),
        (404, json.dumps({"error": {"message": "The model `nope` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": None, "code": "model_not_found"}})),
    ),
    "llama.cpp": Server(
        (404, "application/json", json.dumps({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})),
        None,
    ),
    "fastapi": Server(
        (404, "application/json", json.dumps({"detail": "Not Found"})),
        (404, json.dumps({"object": "error", "message": "The model `nope` does not exist.", "type": "NotFoundError", "param": None, "code": 404})),
    ),
    "go": Server(
        (404, "text/plain", "404 page not found"),
        (404, json.dumps({"error": 'model "nope" not found, try pulling it first'})),
    ),
    "express": Server(
        (404, "text/html", '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Error</title></head>\n<body><pre>Cannot POST /v1/responses</pre></body>\n</html>\n'),
        (400, json.dumps({"error": {"message": "Invalid model identifier \"nope\"", "type": "invalid_request_error"}})),
    ),
    "desktop-200": Server(
        (200, "application/json", json.dumps({"error": "Unexpected endpoint or method. (POST /v1/responses)"})),
        (404, json.dumps({"error": {"message": "model 'nope' not found", "type": "invalid_request_error", "code": "model_not_found"}})),
    ),
    "desktop-404": Server(
        (404, "application/json", json.dumps({"error": "Unexpected endpoint or method. (POST /v1/responses)"})),
        (404, json.dumps({"error": {"message": "model 'nope' not found", "type": "invalid_request_error", "code": "model_not_found"}})),
    ),
    "405": Server((405, "text/plain", "405: Method Not Allowed"), None),
    "501": Server((501, "text/plain", "Not Implemented"), None),
}  # fmt: skip


def chat_only(server: Server) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A chat-only server of that kind: its own answer for /responses, strict about models."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/responses"):
            status, ctype, body = server.missing
            return web.Response(status=status, text=body, content_type=ctype)
        if not request.path.endswith("/chat/completions"):
            return web.Response(status=404, text="404 page not found")
        chat = await request.json()
        if server.unknown_model is not None and chat["model"] != MODEL:
            status, body = server.unknown_model
            return web.Response(status=status, text=body, content_type="application/json")
        return await answer_chat(request, chat)

    return handle


async def auto_proxy(proxy_factory: ProxyFactory, upstream: FakeUpstream, handler: Any) -> ProxyClient:
    upstream.handler = handler
    return await proxy_factory({"providers": [{"name": "p", "base_url": upstream.base_url, "wire": "auto"}]})


async def status_of(client: ProxyClient) -> dict[str, Any]:
    (entry,) = (await (await client.get("/status")).json())["providers"]
    return dict(entry)


@pytest.mark.parametrize("kind", list(SERVERS))
async def test_a_missing_responses_path_is_translated_and_remembered(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, kind: str
) -> None:
    server = SERVERS[kind]
    client = await auto_proxy(proxy_factory, upstream, chat_only(server))
    first = await client.post("/v1/responses", json={"model": f"p/{MODEL}", "input": "hi"})
    assert first.status == 200, await first.text()
    assert (await first.json())["output"][0]["content"][0]["text"] == "Hello! You said: hi"
    assert [s.path for s in upstream.seen] == ["/v1/responses", "/v1/chat/completions"]

    sdk = openai.AsyncOpenAI(
        base_url=f"{client.origin}/v1", api_key="x", max_retries=0, _strict_response_validation=True
    )
    async with sdk.responses.stream(model=f"p/{MODEL}", input="again") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "Hello! You said: again"
    assert [s.path for s in upstream.seen][2:] == ["/v1/chat/completions"]  # remembered: no second probe

    entry = await status_of(client)
    status, _, body = server.missing
    assert entry["detected_wire"] == "chat"
    assert entry["detected_wire_reason"].startswith(f"POST /responses answered {status}: ")
    assert " ".join(body.split())[:40] in entry["detected_wire_reason"]
    metrics = await (await client.get("/metrics")).text()
    assert 'proxyd_fallbacks_total{from="responses",provider="p",to="chat"} 1.0' in metrics


@pytest.mark.parametrize("kind", [k for k, s in SERVERS.items() if s.unknown_model is not None])
async def test_an_unknown_model_on_a_chat_only_server_remembers_nothing(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, kind: str
) -> None:
    server = SERVERS[kind]
    assert server.unknown_model is not None
    client = await auto_proxy(proxy_factory, upstream, chat_only(server))
    bad = await client.post("/v1/responses", json={"model": "p/nope", "input": "hi"})
    assert bad.status == server.unknown_model[0]
    error = (await bad.json())["error"]  # the Responses (OpenAI) error shape, whatever the server's was
    assert "nope" in error["message"] and isinstance(error.get("type"), str)
    assert (await status_of(client))["detected_wire"] is None

    good = await client.post("/v1/responses", json={"model": f"p/{MODEL}", "input": "hi"})
    assert good.status == 200
    # Not remembered after the bad model: the good request probed /responses again.
    assert [s.path for s in upstream.seen] == ["/v1/responses", "/v1/chat/completions"] * 2
    assert (await status_of(client))["detected_wire"] == "chat"


UNKNOWN_MODEL_ON_RESPONSES = {
    "openai": (404, {"error": {"message": "The model `nope` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": None, "code": "model_not_found"}}),
    "vllm": (404, {"object": "error", "message": "The model `nope` does not exist.", "type": "NotFoundError", "param": None, "code": 404}),
    "ollama": (404, {"error": 'model "nope" not found, try pulling it first'}),
    "gateway": (400, {"error": {"message": "Invalid model name passed in model=nope", "type": "invalid_request_error", "code": "400"}}),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(UNKNOWN_MODEL_ON_RESPONSES))
async def test_an_unknown_model_never_switches_a_responses_provider_to_chat(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, kind: str
) -> None:
    status, body = UNKNOWN_MODEL_ON_RESPONSES[kind]

    async def responses_server(request: web.Request) -> web.StreamResponse:
        sent = await request.json()
        if not request.path.endswith("/responses"):
            return web.json_response({"error": {"message": "chat is not served here"}}, status=400)
        if sent["model"] != MODEL:
            return web.json_response(body, status=status)
        return web.json_response({"id": "resp_1", "object": "response", "status": "completed", "output": []})

    client = await auto_proxy(proxy_factory, upstream, responses_server)
    bad = await client.post("/v1/responses", json={"model": "p/nope", "input": "hi"})
    assert bad.status == status
    assert "nope" in (await bad.json())["error"]["message"]
    good = await client.post("/v1/responses", json={"model": f"p/{MODEL}", "input": "hi"})
    assert good.status == 200 and (await good.json())["id"] == "resp_1"
    assert [s.path for s in upstream.seen] == ["/v1/responses", "/v1/responses"]  # chat was never tried
    assert (await status_of(client))["detected_wire"] == "responses"


async def test_a_server_with_neither_path_says_check_base_url(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    async def nothing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="404 page not found")

    client = await auto_proxy(proxy_factory, upstream, nothing)
    resp = await client.post("/v1/responses", json={"model": "p/m", "input": "hi"})
    assert resp.status == 404
    error = (await resp.json())["error"]
    assert error["code"] == "upstream_path_not_found"
    assert "neither /responses" in error["message"] and "check its base_url" in error["message"]
    assert (await status_of(client))["detected_wire"] is None


async def test_a_responses_answer_of_a_desktop_app_is_relayed_whole(
    proxy_factory: ProxyFactory, upstream: FakeUpstream
) -> None:
    response = {"id": "resp_9", "object": "response", "status": "completed", "error": None, "output": []}

    async def responses_server(request: web.Request) -> web.Response:
        return web.json_response(response)

    client = await auto_proxy(proxy_factory, upstream, responses_server)
    resp = await client.post("/v1/responses", json={"model": "p/m", "input": "hi"})
    assert resp.status == 200 and await resp.json() == response
    assert (await status_of(client))["detected_wire"] == "responses"


@pytest.mark.parametrize(
    ("status", "body", "model", "expected"),
    [
        (404, b'{"error": {"message": "Invalid URL (POST /v1/responses)", "type": "invalid_request_error", "code": null}}', "gpt-4o", True),
        (404, b'{"detail": "Not Found"}', "m", True),
        (404, b"404 page not found", "m", True),
        (405, b"", "m", True),
        (501, b"Not Implemented", "m", True),
        (200, b'{"error": "Unexpected endpoint or method. (POST /v1/responses)"}', "m", True),
        (200, b'{"id": "resp_1", "object": "response", "error": null, "output": []}', "m", False),
        (404, b'{"error": {"message": "nope", "code": "model_not_found"}}', "m", False),
        (404, b'{"error": {"message": "The model `my-model` does not exist"}}', "my-model", False),
        (404, b'{"error": "no deployment named gpt-4o-mini"}', "gpt-4o-mini", False),  # names the id
        (404, b'{"error": {"message": "Invalid URL (POST /v1/responses)"}}', "responses", True),  # id is a word of the path
        (400, b'{"error": "bad"}', "m", False),
        (500, b"", "m", False),
    ],
)  # fmt: skip
def test_missing_route(status: int, body: bytes, model: str, expected: bool) -> None:
    assert missing_route(status, body, model, "/responses") is expected


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"", "chat_only"),
        (401, b'{"error": {"message": "bad key"}}', "chat_only"),  # the chat API answered
        (500, b"boom", "chat_only"),
        (404, b'{"error": {"message": "x", "code": "model_not_found"}}', "model_unknown"),
        (400, b'{"error": "model \\"nope\\" not found"}', "model_unknown"),
        (404, b"404 page not found", "no_api"),
        (405, b"", "no_api"),
    ],
)  # fmt: skip
def test_chat_verdict(status: int, body: bytes, expected: str) -> None:
    assert chat_verdict(status, body, "nope") == expected


def test_reason_is_short_one_line_and_keyless() -> None:
    said = reason(404, b'{"error":\n  "bad key sk-abcdefghijklmnop for ' + b"x" * 300 + b'"}')
    assert said.startswith("POST /responses answered 404: {") and "\n" not in said
    assert "sk-abcdefghijklmnop" not in said and len(said) <= len("POST /responses answered 404: ") + 100
    assert reason(405, b"") == "POST /responses answered 405 with no body"


# How servers answer a chat request that belongs on /responses (their own bodies), beside answers
# that must not send anything there: an unknown model, a bad request, vLLM's model without chat.
RESPONSES_ONLY = [
    ("openai: a Responses-only model", 404, {"error": {"message": "This model is only supported in v1/responses and not in v1/chat/completions.", "type": "invalid_request_error", "param": "model", "code": None}}, "model"),
    ("azure: a codex deployment", 400, {"error": {"code": "OperationNotSupported", "message": "The chatCompletion operation does not work with the specified model, gpt-5-codex. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993."}}, "model"),
    ("github copilot", 400, {"error": {"message": "model gpt-5.3-codex is not accessible via the /chat/completions endpoint", "code": "unsupported_api_for_model"}}, "model"),
    ("openai: not a chat model", 404, {"error": {"message": "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?", "type": "invalid_request_error", "param": "model", "code": None}}, "model"),
    ("a gateway that serves only /responses", 400, {"error": {"type": "invalid_request_error", "message": "Unsupported legacy protocol: /v1/chat/completions is not supported. Please use /v1/responses."}}, "provider"),
    ("openai: unknown model", 404, {"error": {"message": "The model `gpt-9` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": None, "code": "model_not_found"}}, None),
    ("vllm: a model without chat", 400, {"object": "error", "message": "The model does not support Chat Completions API", "type": "BadRequestError", "param": None, "code": 400}, None),
    ("a bad request", 400, {"error": {"message": "'messages' is a required property", "type": "invalid_request_error"}}, None),
    ("a server error that quotes the text", 500, {"error": {"message": "This model is only supported in v1/responses"}}, None),
    ("no key", 401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "scope"), [c[1:] for c in RESPONSES_ONLY], ids=[c[0] for c in RESPONSES_ONLY]
)
def test_responses_only(status: int, body: dict[str, Any], scope: str | None) -> None:
    assert responses_only(status, json.dumps(body).encode()) == scope


@pytest.mark.parametrize(
    ("client", "tried", "expected"),
    [
        ("chat", ["chat"], "responses"),
        ("chat", ["chat", "responses"], None),
        ("responses", ["responses"], "chat"),
        ("responses", ["chat"], "responses"),  # a learned chat provider refused the model: its own wire next
        ("anthropic", ["anthropic"], "chat"),
        ("anthropic", ["anthropic", "chat"], "responses"),
        ("anthropic", ["anthropic", "chat", "responses"], None),
    ],
)
def test_next_wire(client: str, tried: list[str], expected: str | None) -> None:
    assert next_wire(client, tried) == expected


def test_a_refusal_says_which_wire_and_how_far() -> None:
    legacy = json.dumps(RESPONSES_ONLY[4][2]).encode()
    refused = refusal("chat", "/chat/completions", 400, legacy, "m", learned=True)
    assert refused is not None and (refused.wire, refused.scope) == ("chat", "provider")
    assert refused.reason.startswith("POST /chat/completions answered 400: ")
    # Once the provider is known to speak chat, a bare 404 is its own answer, not a missing route.
    assert refusal("chat", "/chat/completions", 404, b"404 page not found", "m", learned=True) is None
    assert refusal("chat", "/chat/completions", 404, b"404 page not found", "m", learned=False) is not None


KNOWN = ("unknown", "learned", "probing")
SHOWED = ("answered", "no_route", "elsewhere", "its_error", "no_model", "unsendable")


def test_the_auto_table_has_one_move_for_every_state_and_answer() -> None:
    assert set(MOVES) == {(k, s) for k in KNOWN for s in SHOWED}


@pytest.mark.parametrize(("known", "seen"), [(k, s) for k in KNOWN for s in SHOWED])
def test_the_auto_table_moves(known: str, seen: str) -> None:
    move = MOVES[known, seen]  # type: ignore[index]
    assert not (move.next and move.remember)  # a wire that refused is never remembered
    if seen in ("answered", "its_error", "no_model"):
        assert not move.next  # its API answered: this is the answer
    if seen == "elsewhere":
        assert move.next  # "use /responses" is believed whatever was known
    if seen == "no_model" or known == "learned":
        assert not move.remember  # an unknown model teaches nothing; a known wire is known
    if seen == "answered":
        assert move.remember is (known != "learned")
    if seen in ("no_route", "unsendable"):
        assert move.next is (known != "learned" if seen == "no_route" else known == "probing")


# What an answer showed, read from the servers' own bodies (see MISSING and RESPONSES_ONLY above).
@pytest.mark.parametrize(
    ("wire", "status", "body", "expected"),
    [
        ("responses", 404, b'{"error": {"message": "Invalid URL (POST /v1/responses)"}}', "no_route"),
        ("responses", 200, b'{"error": "Unexpected endpoint or method. (POST /v1/responses)"}', "no_route"),
        ("responses", 200, None, "answered"),  # a stream, or a 200 not read
        ("responses", 200, b'{"id": "resp_1", "output": []}', "answered"),
        ("chat", 404, json.dumps(RESPONSES_ONLY[0][2]).encode(), "elsewhere"),
        ("responses", 400, json.dumps(RESPONSES_ONLY[4][2]).encode(), "its_error"),  # only chat sends elsewhere
        ("chat", 400, json.dumps(RESPONSES_ONLY[4][2]).encode(), "elsewhere"),
        ("anthropic", 404, b'{"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}', "no_route"),
        ("chat", 404, b'{"error": {"message": "The model `m` does not exist", "code": "model_not_found"}}', "no_model"),
        ("chat", 401, b'{"error": {"message": "Incorrect API key provided"}}', "its_error"),
        ("chat", 500, b"boom", "its_error"),
    ],
)  # fmt: skip
def test_showed(wire: str, status: int, body: bytes | None, expected: str) -> None:
    answer_key = {"chat": "choices", "responses": "output", "anthropic": "content"}[wire]
    assert showed(wire, status, body, "m", f"/{wire}", answer_key) == expected
