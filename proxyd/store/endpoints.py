"""Serving responses from proxyd's own store: ``GET``/``DELETE /v1/responses/{id}`` and
``GET /v1/responses/{id}/input_items``. Ids proxyd does not hold are passed through to the
routed provider.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web

from proxyd.errors import bad_request
from proxyd.store.base import StoreDown
from proxyd.store.records import STORE, down, stored


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
    record = await stored(request, store, response_id, "")
    if record is None:
        return None
    if request.method == "DELETE" and not what:
        try:
            await store.delete(response_id)
        except StoreDown as exc:
            raise down(request, exc, "delete", "") from None
        return web.json_response({"id": response_id, "object": "response", "deleted": True})
    if not what:
        return web.json_response(record.response)
    return web.json_response(_item_page(request, response_id, record.input))


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
