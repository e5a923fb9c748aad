"""``GET /v1/models`` and ``/v1/models/{id}``: proxyd's catalog, as a client may see it (its
``listen.tokens`` models), in OpenAI's shape or in a wire's own (Gemini's ``models.list``)."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from proxyd.access import ANYONE
from proxyd.catalog import find_model, model_objects
from proxyd.errors import ProxyError
from proxyd.observe import CLIENT
from proxyd.routing import Target
from proxyd.runtime import RUNTIME
from proxyd.wires.registry import listing_wire


def serve_models(request: web.Request, target: Target) -> web.Response:
    gen = request.app[RUNTIME].current
    rule = gen.policy.rules.get(request.get(CLIENT, ANYONE).name)
    # a wire's own catalog shape: Gemini's, with its paging, also for the google-genai SDK's
    # GET /v1/models (it sends its key as x-goog-api-key)
    endpoint = "gemini.models" if "x-goog-api-key" in request.headers else target.endpoint
    shaped = listing_wire(endpoint)
    if target.rest in ("/models", "/models/"):
        listed = model_objects(gen.router)
        listed = rule.listed(listed) if rule else listed
        if shaped is not None:
            return web.json_response(
                shaped.listing(listed, request.query.get("pageSize"), request.query.get("pageToken"))
            )
        return web.json_response({"object": "list", "data": listed})
    model_id = unquote(target.rest[len("/models/") :])
    found = find_model(gen.router, model_id)
    if found is None or (rule is not None and not rule.allows((model_id,))):
        raise ProxyError(404, f"model {model_id!r} is not in proxyd's catalog (GET /v1/models)", code="model_not_found")
    return web.json_response(shaped.listed(found) if shaped is not None else found)
