"""Serving responses from proxyd's own store: ``GET``/``DELETE /v1/responses/{id}`` and
``GET /v1/responses/{id}/input_items``; and the pieces a translated Responses turn needs for
``previous_response_id``. Ids proxyd does not hold are passed through to the routed provider.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import structlog
from aiohttp import web

from proxyd.access import ANYONE
from proxyd.errors import ProxyError, bad_request
from proxyd.metrics import METRICS
from proxyd.observe import CLIENT
from proxyd.store.base import Record, ResponseStore, StoreDown

STORE: web.AppKey[ResponseStore | None] = web.AppKey("store")


def stored_target(rest: str) -> tuple[str, str] | None:
    """``(response_id, what)`` for ``/responses/{id}`` (what ``""``) or ``.../input_items``."""
    parts = rest.split("/")
    if len(parts) == 3 and parts[2]:
        return unquote(parts[2]), ""
    if len(parts) == 4 and parts[3] == "input_items":
        return unquote(parts[2]), "input_items"
    return None


async def serve_stored(request: web.Request, rest: str) -> web.StreamResponse | None:
    store, found = request.app[STORE], stored_target(rest)
    if store is None or found is None or request.method not in ("GET", "DELETE"):
        return None
    response_id, what = found
    record = await _stored(request, store, response_id, "")
    if record is None:
        return None
    if request.method == "DELETE" and not what:
        try:
            await store.delete(response_id)
        except StoreDown as exc:
            raise _down(request, exc, "delete", "") from None
        return web.json_response({"id": response_id, "object": "response", "deleted": True})
    if not what:
        return web.json_response(record.response)
    return web.json_response(_item_page(request, response_id, record.input))


def not_found(response_id: str) -> ProxyError:
    return ProxyError(
        404,
        f"no response {response_id!r}: proxyd keeps the responses it translated (unless store: false) "
        "and passes other ids to the provider, which did not know it either",
        code="response_not_found",
    )


async def expand_previous(request: web.Request, body: dict[str, Any]) -> Any:
    """The full input of a turn: the previous turn's input and output, then this turn's input.
    Without a previous turn the input is returned as sent, for the translator to check."""
    previous = body.get("previous_response_id")
    if previous is None:
        return body.get("input")
    this_turn = body.get("input")
    if not isinstance(this_turn, str | list):
        raise bad_request("input must be a string or a list of input items", param="input")
    if not isinstance(previous, str):
        raise bad_request("previous_response_id must be a string", param="previous_response_id")
    store = request.app[STORE]
    if store is None:
        raise bad_request("previous_response_id needs proxyd's response store, which is disabled (store.enabled)")
    record = await _stored(request, store, previous, "previous_response_id")
    if record is None:
        error = not_found(previous)
        error.param = "previous_response_id"
        raise error
    return record.input + list(record.response.get("output") or []) + as_items(this_turn)


async def with_history(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its whole input: the turns a ``previous_response_id`` continues, then its own."""
    return {**body, "input": await expand_previous(request, body)}


async def keep_turn(request: web.Request, full: dict[str, Any], response: dict[str, Any]) -> None:
    """Store a finished turn (``full``: the request with its whole input) for
    previous_response_id, unless the client said store: false."""
    store = request.app[STORE]
    if store is None or full.get("store") is False or response.get("status") not in ("completed", "incomplete"):
        return
    try:
        await store.put(as_items(full.get("input")), response, request.get(CLIENT, ANYONE).name)
    except StoreDown as exc:  # a full disk or a store that is down must not break the answer
        _count(request, "put")
        structlog.get_logger("proxyd").warning(
            "store_failed", response_id=response.get("id"), store=exc.where, detail=exc.detail
        )


async def _stored(request: web.Request, store: ResponseStore, response_id: str, param: str) -> Record | None:
    """The record, when the client asking may read it: its own, or any for an admin; another
    client's id is answered as one proxyd does not hold."""
    try:
        record = await store.get(response_id)
    except StoreDown as exc:
        raise _down(request, exc, "get", param) from None
    client = request.get(CLIENT, ANYONE)
    if record is None or record.owner == client.name or client.can("admin"):
        return record
    error = not_found(response_id)  # the same answer as for an id nobody holds: it tells nothing
    error.param = param or None
    raise error


def _down(request: web.Request, exc: StoreDown, operation: str, param: str) -> ProxyError:
    """A 503 naming the store: the request needs a record that only the store can give."""
    _count(request, operation)
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


def _count(request: web.Request, operation: str) -> None:
    metrics = request.app[METRICS]
    metrics.child(metrics.store_errors, operation).inc()


def as_items(raw: object) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _item_page(request: web.Request, response_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    listed = [_listed(item, f"{response_id.removeprefix('resp_')}_{i}") for i, item in enumerate(items)]
    if request.query.get("order", "desc") == "desc":
        listed.reverse()
    after = request.query.get("after")
    if after:
        ids = [item["id"] for item in listed]
        listed = listed[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = min(max(int(request.query.get("limit", "20")), 1), 100)
    except ValueError:
        raise bad_request("limit must be a whole number from 1 to 100", param="limit") from None
    page = listed[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(listed) > limit,
    }


def _listed(item: dict[str, Any], suffix: str) -> dict[str, Any]:
    """An input item as the API lists it: with an id, a type, a status and content parts."""
    out = dict(item)
    kind = out.setdefault("type", "message")
    if kind != "message":
        out.setdefault("id", f"item_{suffix}")
        return out
    out.setdefault("id", f"msg_{suffix}")
    out.setdefault("status", "completed")
    part_type = "output_text" if out.get("role") == "assistant" else "input_text"
    if isinstance(out.get("content"), str):
        out["content"] = [{"type": part_type, "text": out["content"]}]
    if part_type == "output_text":
        out["content"] = [{"annotations": [], **p} for p in out.get("content") or []]
    return out
