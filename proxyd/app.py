"""The aiohttp application: request intake, routing, and the error boundary.

One catch-all handler serves every path, because aiohttp's router matches the decoded path
(``%2F`` becomes ``/``) while proxyd must route and forward the raw one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import aiohttp
import structlog
from aiohttp import web

from proxyd import jsonbody
from proxyd.access import ANYONE
from proxyd.affinity import AFFINITY, open_affinity
from proxyd.attempts import serve_group
from proxyd.config.clients import ModelRule
from proxyd.config.settings import Config
from proxyd.decode import codecs, decode, too_large
from proxyd.drain import DRAIN, Drain, answer_shutdown, is_shutdown
from proxyd.error_answer import answer_error, request_wire
from proxyd.errors import ProxyError, bad_request, disabled_error
from proxyd.forward import forward
from proxyd.guard import add_cors_headers, guard
from proxyd.local.supervisor import LOCAL, Local
from proxyd.local.waiting import end_stream
from proxyd.metrics import METRICS, Metrics
from proxyd.misdirected import misdirected
from proxyd.model_list import serve_models
from proxyd.observe import (
    CLIENT,
    OBS,
    OBSERVER,
    AccessWriter,
    Handler,
    Observation,
    Observer,
    name_the_target,
    observe_requests,
)
from proxyd.own_endpoints import serve_local
from proxyd.page import csrf
from proxyd.page.handlers import PAGE, PageState, is_page, serve_page
from proxyd.probes import HEALTH, HealthChecker, publish_state
from proxyd.protocol import expect_handler
from proxyd.relay import OPENED
from proxyd.reload import RELOADS
from proxyd.routing import Route, Target, gemini_call, parse_target
from proxyd.runtime import RUNTIME, Runtime
from proxyd.spend.gate import GATE, Gate
from proxyd.spend.ledger import LEDGER, Ledger
from proxyd.spend.open import open_gate
from proxyd.spend.where import ledger_store
from proxyd.store.base import ResponseStore
from proxyd.store.endpoints import serve_stored
from proxyd.store.records import STORE, not_found
from proxyd.store.sqlite import SQLiteStore, store_path

STARTUP_CONFIG = web.AppKey("startup_config", Config)
CONFIG_SOURCE = web.AppKey("config_source", str)
CODECS = web.AppKey("codecs", dict)  # Content-Encoding -> decoder
ACCESS_LINE: web.AppKey[AccessWriter] = web.AppKey("access_line")

# The endpoints that route by the body's model: their body is read as JSON whatever its
# Content-Type says, so the route (and a client's model limit) is checked against the very
# bytes that go upstream; one that is not a JSON object gets a 400 in the API's shape.
_DECODE_INLINE = 256 * 1024  # an encoded body larger than this is decoded in a worker thread
_MODEL_ENDPOINTS = frozenset(
    {"chat.completions", "responses", "completions", "embeddings", "messages", "messages.count_tokens",
     "gemini.generate", "gemini.count_tokens"}
)  # fmt: skip


def create_app(
    config: Config, source: str = "", *, metrics_dir: str | None = None, access_line: AccessWriter | None = None
) -> web.Application:
    """``access_line``: the access line's direct writer (:class:`proxyd.log.AccessLine`), if any."""
    middlewares = [guard, observe_requests, _error_boundary]
    app = web.Application(client_max_size=config.listen.max_body_bytes, middlewares=middlewares)
    app.on_response_prepare.append(add_cors_headers)
    app.on_response_prepare.append(name_the_target)
    app[DRAIN] = Drain()
    app[STARTUP_CONFIG] = config
    app[CONFIG_SOURCE] = source
    app[CODECS] = available_codecs()
    app[METRICS] = Metrics(metrics_dir)
    app[PAGE] = PageState(csrf.secret_from(os.environ, secrets.token_bytes(32)))
    if access_line is not None:
        app[ACCESS_LINE] = access_line
    app.cleanup_ctx.append(_runtime)
    app.cleanup_ctx.append(_local)
    app.cleanup_ctx.append(_response_store)
    app.cleanup_ctx.append(_ledger)
    app.cleanup_ctx.append(_gate)
    app.cleanup_ctx.append(_affinity)
    app.cleanup_ctx.append(_reloading)
    app.router.add_route("*", "/{tail:.*}", _handle, expect_handler=expect_handler)
    return app


def server_options(config: Config) -> dict[str, Any]:
    """Options for aiohttp's server (AppRunner / TestServer)."""
    return {
        # A client that leaves cancels its handler, and with it the upstream request.
        "handler_cancellation": True,
        # aiohttp arms this timer when a connection opens and re-arms it after each response,
        # and only a complete request head disarms it: so it is also the header deadline that
        # stops slow-header clients.
        "keepalive_timeout": config.listen.header_timeout_s,
        "access_log": None,
        # Bodies are decoded by proxyd (proxyd.decode), so that a bad one is answered in the
        # API's error shape and the size limit holds for the decoded bytes.
        "auto_decompress": False,
    }


def available_codecs() -> dict[str, Callable[[bytes, int], bytes]]:
    """Request body decoders: gzip and deflate, zstd (stdlib from 3.14, else its backport), br if installed."""
    return codecs(_module("compression.zstd", "backports.zstd"), _module("brotli", "brotlicffi"))


def _module(*names: str) -> ModuleType | None:
    """The first of ``names`` that imports here (an optional codec)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME] = Runtime(app[STARTUP_CONFIG], app[CONFIG_SOURCE])
    runtime.prime_prices()
    app[OBSERVER] = Observer(app[METRICS], runtime, app.get(ACCESS_LINE))
    app[METRICS].last_reload.set(runtime.current.loaded_at)
    app[METRICS].know_providers(p.name for p in runtime.current.config.providers)
    for p in runtime.current.config.providers:
        if p.disabled:  # red from the start, and said once in the log
            publish_state(app[METRICS], p.name, runtime.health[p.name], by="config")
    checker = HealthChecker(runtime, app[METRICS])
    app[HEALTH] = checker
    checker.start()
    yield
    await checker.stop()
    await runtime.close()


async def _local(app: web.Application) -> AsyncIterator[None]:
    """The local servers proxyd runs: none starts before a request needs it; all stop with proxyd."""
    runtime = app[RUNTIME]
    local = app[LOCAL] = Local(app[METRICS], runtime.health)
    local.sync(runtime.current.config)
    idle = asyncio.get_running_loop().create_task(local.run_idle())
    yield
    idle.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await idle
    await local.close()


async def _reloading(app: web.Application) -> AsyncIterator[None]:
    reloader = app.get(RELOADS)  # set by the server when it knows the config file
    if reloader is None:
        yield
        return
    reloader.start()
    yield
    await reloader.stop()


async def _ledger(app: web.Application) -> AsyncIterator[None]:
    settings = app[STARTUP_CONFIG].ledger
    if not settings.enabled:
        yield
        return
    ledger = Ledger(ledger_store(app[STARTUP_CONFIG], os.environ), settings.flush_s)
    await ledger.store.open()
    app[LEDGER] = app[OBSERVER].ledger = ledger
    flusher = asyncio.get_running_loop().create_task(ledger.run())
    yield
    flusher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flusher  # its last flush: what the requests of this run counted
    await ledger.store.close()


async def _gate(app: web.Application) -> AsyncIterator[None]:
    gate, close = await open_gate(app[STARTUP_CONFIG], app.get(LEDGER), app[METRICS])
    app[GATE] = app[OBSERVER].gate = gate
    yield
    await close()


async def _affinity(app: web.Application) -> AsyncIterator[None]:
    app[AFFINITY], close = await open_affinity(app[STARTUP_CONFIG])
    yield
    await close()


async def _response_store(app: web.Application) -> AsyncIterator[None]:
    settings = app[STARTUP_CONFIG].store
    if not settings.enabled:
        app[STORE] = None
        yield
        return
    store: ResponseStore
    if settings.url:
        # Imported only here: the Redis client takes about 0.27 s to import, which a proxyd
        # without a shared store should not pay at start.
        from proxyd.store.shared import RedisStore

        store = RedisStore(settings.url, settings)
    else:
        store = SQLiteStore(store_path(settings, os.environ), settings)
    await store.open()
    app[STORE] = store
    yield
    await store.close()


@web.middleware
async def _error_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProxyError as exc:
        obs = request.get(OBS)
        opened, wire = request.get(OPENED), request_wire(request)
        if opened is not None and wire is not None and obs is not None:  # a stream opened for a local load
            return await end_stream(opened, wire, exc, obs)  # (a model group's last target failed): its error event
        if obs is not None:
            obs.failed(exc)
        return answer_error(wire, exc, exc.headers)
    except web.HTTPException as exc:
        return answer_error(request_wire(request), ProxyError(exc.status, exc.reason, code=f"http_{exc.status}"))
    except asyncio.CancelledError as exc:
        if not is_shutdown(exc) or (request.writer is not None and request.writer.output_size):
            raise
        cut = answer_shutdown()
        return answer_error(request_wire(request), cut)
    except ConnectionResetError:
        raise
    except Exception as exc:
        # The exception's text may quote request data; log its type and where, never its repr.
        structlog.get_logger("proxyd").error("internal_error", error_type=type(exc).__name__, path=request.path)
        if request.writer is not None and request.writer.output_size and request.transport is not None:
            request.transport.close()  # a response was under way: cut it off visibly
        internal = ProxyError(500, "internal error in proxyd; see its log", type="server_error")
        return answer_error(request_wire(request), internal)


async def _handle(request: web.Request) -> web.StreamResponse:
    target = parse_target(request.raw_path)
    if target is None:
        return await serve_page(request) if is_page(request.path) else serve_local(request)
    if target.pinned is None and target.endpoint in ("models", "gemini.models") and request.method in ("GET", "HEAD"):
        return serve_models(request, target)
    if target.rest == "/responses" and request.method == "HEAD":
        return web.Response(headers={"Allow": "POST"})  # Codex's doctor probes this
    if request.method != "POST" or target.endpoint == "other":
        mistake = misdirected(target, request.method, request.headers.get("Host", ""))
        if mistake is not None:
            raise mistake
    if target.endpoint == "responses.item":
        stored = await serve_stored(request, target.rest)
        if stored is not None:
            return stored
        if target.pinned is None and request.app[RUNTIME].current.config.default_provider is None:
            raise not_found(unquote(target.rest.split("/")[2]))
    client = request.get(CLIENT, ANYONE)
    obs = request[OBS] = Observation(secrets.token_hex(12), request.method, target.endpoint, client.name)
    return await _proxy(request, target, obs)


async def _proxy(request: web.Request, target: Target, obs: Observation) -> web.StreamResponse:
    body = await _read_body(request)
    runtime = request.app[RUNTIME]
    gen = runtime.current  # this request keeps this config to its end, reloads or not
    parsed = _parse_json(request, target, body, request.get(CLIENT, ANYONE).name in gen.policy.rules)
    if body is not None and len(body) > _DECODE_INLINE:
        # Parsing a large body took the loop for milliseconds: let the requests waiting behind it
        # (/healthz, a small chat turn) have their turn before the rest of this one's work.
        await asyncio.sleep(0)
    called = gemini_call(target)  # Gemini names the model and streaming in the path
    if called is not None and target.endpoint == "gemini.generate":
        parsed = {**(parsed or {}), "model": called[0], "stream": called[1]}
    asked = called[0] if called is not None else _model_of(parsed)
    route = gen.router.route(asked, target.pinned)
    _check_client(request, gen.policy.rules, asked, route)
    client, access = request.get(CLIENT, ANYONE), gen.config.listen.access
    if Gate.applies(client, access):
        wire = request_wire(request)
        obs.ticket = await request.app[GATE].admit(client, access, wire.name if wire else None)
    if route.group is None and route.provider.disabled:
        raise disabled_error(route.provider.name, route.provider.disabled.text)
    if route.group is not None:
        return await serve_group(request, target, route, gen, body, parsed, obs)
    request.app[OBSERVER].routed(obs, route.provider.name, route.model)
    pool = runtime.lease(gen, route.provider.name)
    try:
        return await forward(request, target, route, pool.session, body, parsed, obs)
    finally:
        runtime.release(pool)


def _check_client(request: web.Request, rules: dict[str, ModelRule], asked: str | None, route: Route) -> None:
    """A client limited to some models (``listen.tokens[].models``) may use only those."""
    client = request.get(CLIENT)
    if client is None or (rule := rules.get(client.name)) is None:
        return
    names = (asked, route.group.alias if route.group else None, route.model,
             f"{route.provider.name}/{route.model}" if route.model else None)  # fmt: skip
    if rule.allows(names):
        return
    raise ProxyError(
        403,
        f"client {client.name!r} may use only the models {', '.join(rule.patterns)}, and this request is for "
        f"{(asked or route.model or 'no model')[:100]!r}; pick one of those (GET /v1/models lists them), or "
        "ask whoever runs proxyd to add it to this client's models in listen.tokens",
        type="permission_error",
        code="model_not_allowed",
    )


def _model_of(parsed: dict[str, Any] | None) -> str | None:
    model = parsed.get("model") if parsed is not None else None
    if model is not None and not isinstance(model, str):
        raise bad_request("'model' must be a string", param="model")
    return model


async def _read_body(request: web.Request) -> bytes | None:
    listen = request.app[STARTUP_CONFIG].listen  # listen settings need a restart to change
    declared = request.content_length
    if declared is not None and declared > listen.max_body_bytes:
        raise too_large(listen.max_body_bytes)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    known = request.app[CODECS]
    if encoding not in known and encoding not in ("identity", ""):
        supported = ", ".join(sorted(known))
        raise ProxyError(415, f"Content-Encoding {encoding[:40]!r} is not supported; use {supported} or none")
    if not request.body_exists:
        return None
    try:
        if request.content.is_eof():  # it all came with the head: nothing to wait for
            raw = await request.read()
        else:
            async with asyncio.timeout(listen.body_timeout_s):
                raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(listen.max_body_bytes) from None
    except TimeoutError:
        raise ProxyError(408, f"the request body did not arrive within {listen.body_timeout_s:g} s") from None
    except aiohttp.web_exceptions.HTTPException:
        raise
    except Exception:  # aiohttp's payload errors: a broken chunked body
        raise bad_request("the request body could not be read as sent (a broken chunked body?)") from None
    if len(raw) > _DECODE_INLINE and encoding not in ("identity", ""):
        # Inflating megabytes takes a while: off the loop, so other requests and /healthz go on.
        return await asyncio.to_thread(decode, raw, encoding, listen.max_body_bytes, known)
    return decode(raw, encoding, listen.max_body_bytes, known)


def _parse_json(request: web.Request, target: Target, body: bytes | None, limited: bool) -> dict[str, Any] | None:
    """``limited``: the client may use only some models, so a body proxyd cannot read the model
    of is refused rather than forwarded on a route checked without it."""
    if not body:
        return None
    ctype = request.headers.get("Content-Type", "")
    if target.endpoint in _MODEL_ENDPOINTS or "json" in ctype.lower():
        return jsonbody.parse_object(body)
    if not limited:
        return None
    try:
        return jsonbody.parse_object(body)
    except ProxyError:
        raise ProxyError(
            415,
            f"this client may use only some models, and proxyd checks the model of a JSON body only (this one is "
            f"{ctype[:60] or 'without a Content-Type'}): send the request as JSON, or ask whoever runs proxyd "
            "for a client without a models limit",
            code="unsupported_media_type",
        ) from None
