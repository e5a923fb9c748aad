"""A bench-only build of proxyd: ``proxyd serve`` with chosen stages of the request path
switched off or replaced by a no-op, to measure what each costs (``python -m bench.ablation``).

    python -m bench.ablate --off access_line,metrics -- --config C --port P

Never for real use: a switched-off stage is simply missing (no access line, no metrics, no
checks). Each switch patches one function of the running build before the app is made.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web


class _Nop:
    """Stands for a metric child or the traffic ring: takes every call, does nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


@web.middleware
async def _through(request: web.Request, handler: Any) -> web.StreamResponse:
    return await handler(request)  # type: ignore[no-any-return]


async def _no_hook(request: web.Request, response: web.StreamResponse) -> None:
    return None


def _patch(owner: object, name: str, value: object) -> None:
    """Replace ``owner.name`` in this build (typed code does not expect it to change)."""
    setattr(owner, name, value)


def _memo(function: Callable[..., Any], key: Callable[..., Any], copy: Callable[[Any], Any] = lambda v: v) -> Any:
    """``function`` answered from a cache: what remains is the cost of the call itself."""
    cache: dict[Any, Any] = {}

    def cached(*args: Any) -> Any:
        k = key(*args)
        if k not in cache:
            cache[k] = function(*args)
        return copy(cache[k])

    return cached


def _access_line() -> None:
    from proxyd.observe import Observer

    _patch(Observer, "_log", lambda self, obs, duration, reason: None)


def _log_chain() -> None:
    import structlog

    from proxyd import log

    original = log.configure

    def bare(*args: Any, **kwargs: Any) -> Any:
        redactor = original(*args, **kwargs)
        structlog.configure(processors=[structlog.processors.JSONRenderer()])
        return redactor

    _patch(log, "configure", bare)


def _redaction() -> None:
    from proxyd.log import Redactor

    _patch(Redactor, "__call__", lambda self, logger, method, event: event)


def _metrics() -> None:
    from proxyd.metrics import Metrics

    _patch(Metrics, "child", lambda self, metric, *labels: _Nop())


def _observation() -> None:
    from proxyd.observe import Observer

    _patch(Observer, "finish", lambda self, obs: None)


def _traffic_ring() -> None:
    from proxyd import observe

    _patch(observe, "ring", _Nop)


def _health_feedback() -> None:
    from proxyd.observe import Observer

    _patch(Observer, "_update_health", lambda self, obs, reason: None)


def _middleware(name: str) -> Callable[[], None]:
    def switch() -> None:
        from proxyd import app

        _patch(app, name, _through)

    return switch


def _response_hooks() -> None:
    from proxyd import app

    _patch(app, "add_cors_headers", _no_hook)
    _patch(app, "name_the_target", _no_hook)


def _json_parse() -> None:
    from proxyd import jsonbody

    _patch(jsonbody, "parse_object", _memo(jsonbody.parse_object, bytes, dict))


def _routing() -> None:
    from proxyd.routing import Router

    _patch(Router, "route", _memo(Router.route, lambda self, model, pinned: (id(self), model, pinned)))


def _headers() -> None:
    from proxyd import forward

    _patch(forward, "upstream_request_headers",
           _memo(vars(forward)["upstream_request_headers"], lambda items, provider: provider.name, list))  # fmt: skip


def _stream_check() -> None:
    from proxyd.wires.chat import ChatWire

    _patch(ChatWire, "check", lambda self: None)


def _first_token() -> None:
    from proxyd.observe import Observation

    _patch(Observation, "streaming", lambda self: None)


# name -> (what is switched off, the switch)
STAGES: dict[str, tuple[str, Callable[[], None]]] = {
    "access_line": ("the access line, rendered and written", _access_line),
    "log_chain": ("structlog's processors (level, timestamp, exc_info, redaction): JSON rendering only", _log_chain),
    "redaction": ("redaction of every log line", _redaction),
    "metrics": ("every Prometheus update (a no-op child)", _metrics),
    "observation": ("Observer.finish: metrics, access line, health, traffic list", _observation),
    "traffic_ring": ("the page's list of recent requests", _traffic_ring),
    "health_feedback": ("real traffic's effect on provider health", _health_feedback),
    "guard": ("the guard middleware (Host, Origin, token, in-flight count)", _middleware("guard")),
    "observe_middleware": ("the observe middleware (and so Observer.finish)", _middleware("observe_requests")),
    "error_boundary": ("the error-boundary middleware", _middleware("_error_boundary")),
    "response_hooks": ("on_response_prepare: CORS headers, x-proxyd-provider/-model", _response_hooks),
    "json_parse": ("the request's JSON parse (answered from a cache)", _json_parse),
    "routing": ("routing (answered from a cache)", _routing),
    "headers": ("building the upstream request's headers (from a cache)", _headers),
    "stream_check": ("the chat StreamCheck: SSE decoding, usage, the end-of-stream rule", _stream_check),
    "first_token": ("the first-token search in each chunk", _first_token),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablate", description=__doc__)
    parser.add_argument("--off", default="", help="comma-separated stages: " + ", ".join(STAGES) + ", or all")
    parser.add_argument("serve", nargs=argparse.REMAINDER, help="-- then proxyd serve's arguments")
    args = parser.parse_args(argv)
    names = list(STAGES) if args.off == "all" else [n for n in args.off.split(",") if n]
    for name in names:
        STAGES[name][1]()
    print(json.dumps({"off": names}), file=sys.stderr)
    from proxyd.cli import main as proxyd_main

    return proxyd_main(["serve", *[a for a in args.serve if a != "--"]])


if __name__ == "__main__":
    sys.exit(main())
