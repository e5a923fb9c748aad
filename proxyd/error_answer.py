"""Every error answer proxyd sends, in the shape of the API the client called: one place.

The client's wire decides the shape (Anthropic's ``{"type": "error", ...}`` on ``/v1/messages``
and ``count_tokens``, OpenAI's elsewhere); a path proxyd cannot even parse gets OpenAI's. The
guard's refusals, the app's error boundary, aiohttp's own answers (:mod:`proxyd.protocol`) and
every provider error (:func:`provider_error`, relayed or across wires) answer through
:func:`answer_error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web

from proxyd.catalog import not_in_catalog
from proxyd.config.services import is_local_url
from proxyd.context_fit import overflow, too_long
from proxyd.errors import ProxyError, names_model, provider_message, reshape_upstream_error, upstream_error
from proxyd.exchange import Exchange
from proxyd.headers import downstream_response_headers
from proxyd.misdirected import meant
from proxyd.routing import parse_target
from proxyd.runtime import RUNTIME
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


Headers = Iterable[tuple[str, str]]


def provider_error(request: web.Request, status: int, headers: Headers, body: bytes, ex: Exchange) -> web.Response:
    """The client's answer for a provider's error whose body was read. Within one family of
    errors it keeps the provider's words (OpenAI-shaped as it came, or reshaped into that shape);
    across families it says who answered what, in the client's shape. A "no such model" for a
    model no catalog lists gets proxyd's view beside it: the catalog is looked at here, on the
    error's way, not per request."""
    over = overflow(status, body) if is_local_url(ex.provider.base_url) else None
    if over is not None:  # a local model's context is too small for this prompt: say so plainly
        return answer_error(ex.client or ex.wire, too_long(over, None, ex.obs.model or "", ex.provider.name))
    if ex.translated and ex.client is not None and ex.wire is not None and ex.client.errors != ex.wire.errors:
        said = provider_message(body) or "no details given"
        message = f"provider {ex.provider.name!r} answered {status}: {said}"
        return answer_error(ex.client, ProxyError(status if status < 600 else 502, message))
    shaped = reshape_upstream_error(
        status, body, provider=ex.provider.name, base_url=ex.provider.base_url, path=ex.path
    )
    model = ex.obs.model
    if status == 404 and names_model(404, body, model):
        note = not_in_catalog(request.app[RUNTIME].current.router, ex.provider.name, model)
        if note is not None:  # the provider's words (Ollama's "try pulling it") are not the whole story
            said = f"provider {ex.provider.name!r}: {provider_message(body)}"
            shaped = ProxyError(404, f"{said}; {note}", code="model_not_found")
    if shaped is not None:  # in the shape of the wire's own errors
        return answer_error(ex.wire, shaped)
    return web.Response(status=status, body=body, headers=downstream_response_headers(headers))


def redirect_error(status: int, location: str | None, ex: Exchange) -> ProxyError:
    where = location or "(no Location header)"
    return upstream_error(
        502,
        f"provider {ex.provider.name!r} answered {status} redirecting to {where[:300]}; proxyd does not "
        "follow redirects: set base_url to the final address",
        "upstream_redirect",
    )
