"""aiohttp's own answers, in the API's error shape.

aiohttp answers some requests before any handler or middleware runs: an ``Expect`` it does not
know (417), and a request its HTTP parser rejects (a broken head, a header line or URL past
8 KiB, a bad ``Content-Length`` or chunked body: 400). It writes those in ``text/plain``, and its
message quotes the offending bytes, which may be a key. Here they become error bodies in the
shape of the API the request called (:func:`proxyd.error_answer.answer_error`) that name the kind
of problem and quote nothing.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler

from proxyd.error_answer import answer_error, request_wire
from proxyd.errors import ProxyError
from proxyd.wires.registry import Wire

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def expect_handler(request: web.Request) -> web.Response | None:
    """``Expect: 100-continue`` is granted; any other expectation gets a 417 in JSON."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no Expect: the header is ignored
    if expect.lower() == "100-continue":
        await request.writer.write(_CONTINUE)
        request.writer.output_size = 0  # the interim answer is not the response
        return None
    message = f"Expect: {expect[:60]!r} is not supported; send no Expect header, or Expect: 100-continue"
    return answer_error(request_wire(request), ProxyError(417, message, code="expectation_failed"))


class JsonErrors(RequestHandler):
    """A connection handler whose own error answers are JSON, logged without the request's bytes."""

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        log = structlog.get_logger("proxyd")
        if status >= 500:  # a fault in proxyd or aiohttp, not in the request: the traceback helps
            log.error("internal_error", error_type=type(exc).__name__ if exc else None, exc_info=exc)
            error = ProxyError(status, "internal error in proxyd; see its log", type="server_error")
        else:
            # aiohttp's own log line would quote the offending bytes, which can be a key (a too-long
            # X-Api-Key value is quoted without its header name, so no redaction could know it).
            what = _what(exc, message)
            (log.debug if isinstance(exc, BadHttpMethod) else log.info)(
                "bad_http_request", status=status, problem=what, peer=request.remote
            )
            error = ProxyError(status, f"proxyd could not read this HTTP request: {what}", code="bad_http_request")
        if request.writer.output_size > 0:  # a response was under way: the connection just closes
            raise ConnectionError("a response was already under way; it cannot become an error")
        resp = answer_error(_wire_of(request), error)
        resp.force_close()
        return resp


def _wire_of(request: Any) -> Wire | None:
    """The wire of the API called, when the request got far enough to have a path."""
    try:
        return request_wire(request)
    except Exception:  # a request the parser gave up on may have no usable path
        return None


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrors(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    """An ``AppRunner`` whose connections answer aiohttp's own errors in JSON."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app builds a plain Server; only the handler it makes per connection differs.
        server.__class__ = _Server
        return server


def _what(exc: BaseException | None, message: str | None) -> str:
    """The parser's complaint, without the request bytes it quotes."""
    if isinstance(exc, LineTooLong):
        return "a header line or the URL is longer than 8190 bytes"
    if isinstance(exc, BadHttpMethod) or (message or "").startswith("Pause on PRI"):
        return "it is not HTTP/1.1 (HTTPS, HTTP/2 or another protocol sent to an http:// port?)"
    first = (message or "malformed request").splitlines()[0] if message else "malformed request"
    for quote in (": b'", ': b"', ": bytearray("):
        first = first.split(quote)[0]
    return first.rstrip(": ") or "malformed request"
