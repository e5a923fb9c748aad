"""The outermost middleware: local-access checks, CORS answers, and the requests in flight.

The checks themselves are pure (:mod:`proxyd.access`); this module applies the ones in force
(they change on reload), answers a refused request in the shape of the API called, counts it in
``proxyd_refused_requests_total`` and logs it. Every request that passes is registered in the
:class:`~proxyd.drain.Drain` while it runs, for a graceful stop.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from proxyd.access import Refusal, came_through_proxy, check_role, preflight_headers
from proxyd.drain import DRAIN
from proxyd.error_answer import answer_error, request_wire
from proxyd.errors import ProxyError
from proxyd.metrics import METRICS
from proxyd.observe import CLIENT, Handler
from proxyd.runtime import RUNTIME

CORS_ORIGIN = web.RequestKey("cors_origin", str)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    policy = request.app[RUNTIME].current.policy
    headers = request.headers
    origin = headers.get("Origin")
    host = headers.get("Host")
    refusal = policy.check_host(host)
    if refusal is None and (origin is not None or "Sec-Fetch-Site" in headers):
        forwarded = came_through_proxy(headers, request.remote)
        refusal = policy.check_browser(origin, headers.get("Sec-Fetch-Site"), host, forwarded)
    if refusal is None and origin is not None:
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in headers:
            return _preflight(request, origin)
        request[CORS_ORIGIN] = origin
    if refusal is None and policy.wants_token:
        who = policy.check_token(request.path, headers, request.query_string)
        if isinstance(who, Refusal):
            refusal = who
        else:
            request[CLIENT] = who
            refusal = check_role(who, request.method, request.path)
    if refusal is not None:
        return _refuse(request, refusal)
    tasks = request.app[DRAIN].tasks
    task = asyncio.current_task()
    assert task is not None
    tasks.add(task)
    try:
        return await handler(request)
    finally:
        tasks.discard(task)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: let an allowed origin's page read the answer, streams included."""
    origin = request.get(CORS_ORIGIN)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.add("Vary", "Origin")


def _preflight(request: web.Request, origin: str) -> web.Response:
    private = request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true"
    headers = preflight_headers(origin, request.headers.get("Access-Control-Request-Headers"), private)
    return web.Response(status=204, headers=headers)


def _refuse(request: web.Request, refusal: Refusal) -> web.Response:
    metrics = request.app[METRICS]
    metrics.child(metrics.refused, refusal.reason).inc()
    structlog.get_logger("proxyd.access").warning(
        "refused",
        reason=refusal.reason,
        code=refusal.code,
        method=request.method,
        path=request.path[:200],
        host=request.headers.get("Host", "")[:100],
        origin=request.headers.get("Origin", "")[:100] or None,
        peer=request.remote,
    )
    headers = {"WWW-Authenticate": 'Bearer realm="proxyd"'} if refusal.status == 401 else None
    return answer_error(request_wire(request), ProxyError(refusal.status, refusal.message, code=refusal.code), headers)
