"""A Responses conversation proxyd continues itself: the turns a ``previous_response_id``
continues, read before a translated request leaves, and the finished turn stored after."""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from proxyd.access import ANYONE
from proxyd.errors import bad_request
from proxyd.observe import CLIENT
from proxyd.store.base import StoreDown
from proxyd.store.records import STORE, count_error, not_found, stored


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
    record = await stored(request, store, previous, "previous_response_id")
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
        count_error(request, "put")
        structlog.get_logger("proxyd").warning(
            "store_failed", response_id=response.get("id"), store=exc.where, detail=exc.detail
        )


def as_items(raw: object) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
