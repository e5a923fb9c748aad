"""aiohttp's own answers (an unknown Expect, a request its parser rejects) come in the API's error
shape, quote none of the request's bytes, and leave the daemon serving."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from proxyd.app import available_codecs
from tests.conftest import FakeUpstream, ProxyClient
from tests.helpers import start_serve, write
from tests.test_app import assert_openai_error, raw_request

KEY = "sk-protocol-secret-0123456789"
POST = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("name", "request_bytes", "status", "fragment"),
    [
        ("unknown Expect", POST + b"Expect: 999-nonsense\r\nContent-Length: 2\r\n\r\n{}", 417, "Expect: '999-nonsense' is not supported"),
        ("bad Content-Length", POST + b"Content-Length: abc\r\n\r\n{}", 400, "Content-Length"),
        ("unknown Transfer-Encoding", POST + b"Transfer-Encoding: gzip\r\n\r\n{}", 400, "Transfer-Encoding"),
        ("bad chunk size", POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, "chunk size"),
        ("header too long", POST + b"Authorization: Bearer " + KEY.encode() + b"x" * 9000 + b"\r\nContent-Length: 2\r\n\r\n{}", 400, "longer than 8190 bytes"),
        ("URL too long", b"GET /v1/models?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "longer than 8190 bytes"),
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400, "not HTTP/1.1"),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "not HTTP/1.1"),
    ],
)  # fmt: skip
async def test_aiohttps_own_errors_are_json(
    proxy: ProxyClient, upstream: FakeUpstream, name: str, request_bytes: bytes, status: int, fragment: str
) -> None:
    got, body = await raw_request(proxy, request_bytes)
    assert got == status, (name, body)
    error = assert_openai_error(json.loads(body))
    assert fragment in error["message"], (name, error)
    assert KEY not in body.decode("utf-8", "replace") and "aaaa" not in error["message"]
    assert not upstream.seen
    resp = await proxy.post("/v1/chat/completions", json={"model": "fast"})  # and the daemon serves on
    assert resp.status == 200


async def test_expect_100_continue_is_still_granted(proxy: ProxyClient, upstream: FakeUpstream) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        body = b'{"model": "fast"}'
        writer.write(POST + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    assert upstream.last.json()["model"] == "llama3.2"


async def test_a_bad_brotli_body_is_json_whether_or_not_brotli_is_installed(
    proxy: ProxyClient, upstream: FakeUpstream
) -> None:
    head = POST + b"Content-Encoding: br\r\nContent-Length: 5\r\n\r\n"
    status, body = await raw_request(proxy, head, b"hello")
    error = assert_openai_error(json.loads(body))
    if "br" in available_codecs():
        assert status == 400 and "not valid br" in error["message"]
    else:
        assert status == 415 and "'br' is not supported" in error["message"]
    assert not upstream.seen


async def test_a_key_in_a_rejected_header_never_reaches_the_log(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yaml", "health: {interval_s: 0}\nproviders: [{name: p, base_url: 'http://127.0.0.1:1/v1'}]\n"
    )
    proc, url = await start_serve(config)
    port = int(url.split(":")[2].split("/")[0])
    try:
        for header in (b"Authorization: Bearer ", b"X-Api-Key: ", b"Cookie: session="):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(POST + header + KEY.encode() + b"x" * 9000 + b"\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.0 400") and KEY.encode() not in answer
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert KEY not in err.decode()
    events = [json.loads(line) for line in err.splitlines()]
    assert [e["problem"] for e in events if e["event"] == "bad_http_request"] == [
        "a header line or the URL is longer than 8190 bytes"
    ] * 3


async def test_an_unknown_expect_on_the_messages_api_is_answered_in_its_shape(
    proxy: ProxyClient, upstream: FakeUpstream
) -> None:
    messages = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    got, body = await raw_request(proxy, messages + b"Expect: 999-nonsense\r\nContent-Length: 2\r\n\r\n{}")
    assert got == 417 and not upstream.seen
    error = json.loads(body)
    assert error["type"] == "error" and "999-nonsense" in error["error"]["message"], error
