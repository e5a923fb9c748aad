"""Odd but legal SSE from upstreams — no ``event:`` lines, CRLF or CR line ends, ``: ping``
comments, ``data:`` without its space, lines and UTF-8 characters split across reads — through
every way a stream goes: relayed as is (chat, responses) and translated (responses from chat,
chat from responses). Each must arrive whole, complete and counted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from proxyd.sse import SSEDecoder
from proxyd.wires.responses.replay import response_to_sse
from tests.conftest import FakeUpstream, ProxyClient

ProxyFactory = Callable[..., Awaitable[ProxyClient]]
PIECES = ["h\u00e9llo ", "w\u00f6rld ", "\u20acuro \U0001f600"]  # 2-, 3- and 4-byte UTF-8 to cut through
TEXT = "".join(PIECES)
Event = tuple[str, str]  # (event name or "", data)


def chat_events() -> list[Event]:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return "", json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    usage = {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10}
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": p}) for p in PIECES),
        chunk({}, "stop"),
        ("", json.dumps({**base, "choices": [], "usage": usage})),
        ("", "[DONE]"),
    ]


def responses_events() -> list[Event]:
    usage = {"input_tokens": 3, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 7,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 10}  # fmt: skip
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}  # fmt: skip
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "m",
                "output": [message], "usage": usage}  # fmt: skip
    return [(e.event, e.data) for e in SSEDecoder().feed(response_to_sse(response))]


def render(events: list[Event], *, eol: str = "\n", names: bool = True, space: str = " ", ping: bool = False) -> bytes:
    out = []
    for name, data in events:
        if ping:
            out.append(f": ping{eol}{eol}")
        head = f"event:{space}{name}{eol}" if name and names else ""
        comment = f":keep-alive{eol}" if ping else ""
        out.append(f"{head}{comment}data:{space}{data}{eol}{eol}")
    return "".join(out).encode()


STYLES: dict[str, dict[str, Any]] = {
    "as-openai-sends-it": {},
    "no-event-lines": {"names": False},
    "crlf": {"eol": "\r\n"},
    "cr-only": {"eol": "\r"},
    "ping-comments": {"ping": True},
    "data-without-space": {"space": ""},
    "crlf-pings-split-every-5-bytes": {"eol": "\r\n", "ping": True, "split": 5},
    "no-names-split-every-3-bytes": {"names": False, "split": 3},
}


def quirky_upstream(style: dict[str, Any]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    split = style.get("split")
    options = {k: v for k, v in style.items() if k != "split"}

    async def handler(request: web.Request) -> web.StreamResponse:
        events = responses_events() if request.path.endswith("/responses") else chat_events()
        data = render(events, **options)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(data), split or len(data)):
            await resp.write(data[i : i + (split or len(data))])
            if split:
                await asyncio.sleep(0.0005)  # separate reads at the proxy, as a slow link gives
        return resp

    return handler


async def read_events(resp: Any) -> list[Event]:
    assert resp.status == 200, await resp.text()
    decoder = SSEDecoder()
    events = decoder.feed(await resp.read()) + decoder.flush()  # a last CR may wait for an LF
    return [(e.event, e.data) for e in events]


def chat_text(events: list[Event]) -> str:
    assert events[-1][1] == "[DONE]", events[-3:]  # complete: not cut, no error appended
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert not any("error" in c for c in chunks)
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def responses_text(events: list[Event]) -> str:
    bodies = [json.loads(d) for _, d in events if d != "[DONE]"]
    kinds = [b["type"] for b in bodies]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert bodies[-1]["response"]["usage"]["total_tokens"] == 10
    return "".join(b["delta"] for b in bodies if b["type"] == "response.output_text.delta")


ROUTES = {  # (client endpoint, model, how the answer is read)
    "chat-relayed": ("/v1/chat/completions", "c/m", chat_text),
    "responses-relayed": ("/v1/responses", "r/m", responses_text),
    "responses-from-chat": ("/v1/responses", "c/m", responses_text),
    "chat-from-responses": ("/v1/chat/completions", "r/m", chat_text),
}


async def tokens_counted(client: ProxyClient, provider: str) -> float:
    text = await (await client.get("/metrics")).text()
    labels = (f'provider="{provider}"', 'kind="completion"')
    lines = [line for line in text.splitlines() if line.startswith("proxyd_tokens_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if all(label in line for label in labels))


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("style", list(STYLES))
async def test_odd_sse_arrives_whole(
    proxy_factory: ProxyFactory, upstream: FakeUpstream, style: str, route: str
) -> None:
    upstream.handler = quirky_upstream(STYLES[style])
    client = await proxy_factory(
        {
            "providers": [
                {"name": "c", "base_url": upstream.base_url, "wire": "chat"},
                {"name": "r", "base_url": upstream.base_url, "wire": "responses"},
            ]
        }
    )
    path, model, text_of = ROUTES[route]
    body: dict[str, Any] = {"model": model, "stream": True}
    if path.endswith("/chat/completions"):
        body.update(messages=[{"role": "user", "content": "hi"}], stream_options={"include_usage": True})
    else:
        body["input"] = "hi"
    events = await read_events(await client.post(path, json=body))
    assert text_of(events) == TEXT
    assert await tokens_counted(client, model[0]) == 7  # the usage was found in the odd stream too
