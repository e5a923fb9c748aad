"""proxyd's own endpoints: ``/healthz``, ``/readyz``, ``/status`` and ``/metrics`` (the
browser page at ``/`` is :mod:`proxyd.page`).

None of them calls an upstream: ``/status`` reports what the health checker and real traffic
last saw. Nothing here shows a key: providers show where their key comes from, to an admin
(:mod:`proxyd.visibility` shapes ``/status`` by the client's role).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from proxyd import __version__
from proxyd.access import ANYONE
from proxyd.errors import ProxyError
from proxyd.failover import group_report
from proxyd.local.supervisor import LOCAL
from proxyd.metrics import METRICS
from proxyd.observe import CLIENT
from proxyd.reload import RELOADS
from proxyd.runtime import RUNTIME, Generation, Runtime
from proxyd.store.records import STORE
from proxyd.visibility import status_for


def serve_local(request: web.Request) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        raise _unknown(request)
    path = request.path
    if path == "/healthz":
        return web.json_response({"status": "ok"})
    if path == "/readyz":
        ready = RUNTIME in request.app and request.app[RUNTIME].ready
        return web.json_response({"status": "ready" if ready else "starting or stopping"}, status=200 if ready else 503)
    if path == "/status":
        role = request.get(CLIENT, ANYONE).role
        return web.json_response(status_for(status_document(request.app), role), dumps=_dumps)
    if path == "/metrics":
        return request.app[METRICS].response()
    raise _unknown(request)


def _unknown(request: web.Request) -> ProxyError:
    return ProxyError(
        404,
        f"unknown path {request.path[:200]}: proxyd serves the OpenAI API under /v1/... "
        "(and /providers/{name}/v1/... to pick a provider); its own pages are / (in a browser), /status, "
        "/healthz, /readyz, /metrics",
        code="unknown_path",
    )


def status_document(app: web.Application) -> dict[str, Any]:
    runtime = app[RUNTIME]
    gen = runtime.current
    reloads = app.get(RELOADS)
    local = app[LOCAL].report() if LOCAL in app else {}
    return {
        "version": __version__,
        "ready": runtime.ready,
        "config": {
            "source": runtime.source,
            "generation": gen.number,
            "loaded_at": gen.loaded_at,
            "last_reload": reloads.last if reloads is not None else None,
        },
        "access": {  # where the token comes from, never the token
            "token": gen.config.listen.access.token_source,
            "clients": [
                {"name": e.client.name, "token": e.source, "models": list(e.client.models) or None}
                for e in gen.config.listen.access.clients
            ],
            "allowed_hosts": list(gen.config.listen.access.allowed_hosts),
            "allowed_origins": list(gen.config.listen.access.allowed_origins),
        },
        "store": store.describe() if (store := app.get(STORE)) is not None else None,
        "providers": [_provider(runtime, gen, p.name, local) for p in gen.config.providers],
        "groups": group_report(gen.config.groups, runtime.targets, runtime.health, runtime.busy, time.time()),
    }


def _provider(runtime: Runtime, gen: Generation, name: str, local: dict[str, dict[str, Any]]) -> dict[str, Any]:
    provider = gen.config.provider(name)
    assert provider is not None
    health, learned = runtime.health[name], runtime.wires[name]
    detected = learned.wire or (provider.wire if provider.wire != "auto" else None)
    return {
        "name": name,
        "base_url": provider.base_url,  # credentials in a base_url are refused at load time
        "key": provider.key_source,
        "wire": provider.wire,
        **health.as_json(),
        **learned.as_json(),
        "detected_wire": detected,
        "models": {
            "configured": [m.id for m in provider.models],
            "discovered": [m.id for m in health.models],
        },
        # Per model, what its answers' tool calls say: well, in text, invalid arguments, never.
        "tool_calls": runtime.tool_health.of(name),
        "local": local.get(name),  # its server, when proxyd runs it (command:)
        # or its models' own servers, each on the provider's port in turn
        "local_models": {m.id: local[f"{name}/{m.id}"] for m in provider.models if f"{name}/{m.id}" in local} or None,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
