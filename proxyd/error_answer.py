"""Every error answer proxyd sends, in the shape of the API the client called: one place.

The client's wire decides the shape (Anthropic's ``{"type": "error", ...}`` on ``/v1/messages``
and ``count_tokens``, OpenAI's elsewhere); a path proxyd cannot even parse gets OpenAI's. The
guard's refusals, the app's error boundary, the relay's reshaped provider errors and a
translated request's provider error all answer through :func:`answer_error`.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from proxyd.errors import ProxyError
from proxyd.misdirected import meant
from proxyd.routing import parse_target
from proxyd.wires.registry import Wire, endpoint_wire


def request_wire(request: web.Request) -> Wire | None:
    """The wire of the API the request called, if it is one proxyd speaks."""
    try:
        target = parse_target(request.raw_path)
    except ProxyError:  # the target itself was the error: no API to speak of
        return None
    return endpoint_wire(meant(target).endpoint) if target is not None else None


def answer_error(wire: Wire | None, error: ProxyError, headers: Mapping[str, str] | None = None) -> web.Response:
    body = wire.error_body(error) if wire is not None else error.body()
    return web.json_response(body, status=error.status, headers=headers)
