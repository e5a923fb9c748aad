"""The store as the request path reads it: the app's store, a record only its owner (or an
admin) may read, and the errors a store that is down or an unknown id answer."""

from __future__ import annotations

import structlog
from aiohttp import web

from proxyd.access import ANYONE
from proxyd.errors import ProxyError
from proxyd.metrics import METRICS
from proxyd.observe import CLIENT
from proxyd.store.base import Record, ResponseStore, StoreDown

STORE: web.AppKey[ResponseStore | None] = web.AppKey("store")


def not_found(response_id: str) -> ProxyError:
    return ProxyError(
        404,
        f"no response {response_id!r}: proxyd keeps the responses it translated (unless store: false) "
        "and passes other ids to the provider, which did not know it either",
        code="response_not_found",
    )


async def stored(request: web.Request, store: ResponseStore, response_id: str, param: str) -> Record | None:
    """The record, when the client asking may read it: its own, or any for an admin; another
    client's id is answered as one proxyd does not hold."""
    try:
        record = await store.get(response_id)
    except StoreDown as exc:
        raise down(request, exc, "get", param) from None
    client = request.get(CLIENT, ANYONE)
    if record is None or record.owner == client.name or client.can("admin"):
        return record
    error = not_found(response_id)  # the same answer as for an id nobody holds: it tells nothing
    error.param = param or None
    raise error


def down(request: web.Request, exc: StoreDown, operation: str, param: str) -> ProxyError:
    """A 503 naming the store: the request needs a record that only the store can give."""
    count_error(request, operation)
    structlog.get_logger("proxyd").warning("store_failed", operation=operation, store=exc.where, detail=exc.detail)
    need = "continues a conversation (previous_response_id)" if param else "asks for a stored response"
    error = ProxyError(
        503,
        f"proxyd's response store {exc.where} is not answering ({exc.detail}), and this request {need}; "
        "requests without previous_response_id still work. Start the store again or check store.url "
        "(proxyd reconnects by itself), then send the request again",
        type="server_error",
        code="store_unavailable",
    )
    error.param = param or None
    return error


def count_error(request: web.Request, operation: str) -> None:
    metrics = request.app[METRICS]
    metrics.child(metrics.store_errors, operation).inc()
