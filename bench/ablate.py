"""A bench-only build of proxyd: ``proxyd serve`` whose stages of the request path can be
switched off (or replaced by a no-op) while it runs, to measure what each costs
(``python -m bench.ablation``).

    python -m bench.ablate --switches FILE -- --config C --port P

On SIGUSR2 the build reads FILE, a list of stage names (or ``all``), and switches those off
and every other one back on. Measuring every setting in one process matters: two processes
of the very same build differ in CPU per request by a fifth on this VM, more than most stages
cost. Never for real use: a switched-off stage is simply missing (no access line, no metrics,
no checks).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
from aiohttp import web


class _Nop:
    """Stands for a metric child or the traffic ring: takes every call, does nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class Switches:
    """Which stages are off; each patched function asks on every call."""

    def __init__(self) -> None:
        self.off: frozenset[str] = frozenset()
        self.chain: list[Any] = []  # structlog's processors as configured (log_chain puts them back)

    def set(self, names: frozenset[str]) -> None:
        self.off = names
        processors = structlog.get_config()["processors"]
        if not self.chain:
            self.chain = list(processors)
        # In place: loggers already made hold this very list.
        processors[:] = [structlog.processors.JSONRenderer()] if "log_chain" in names else self.chain


def _switch(switches: Switches, stage: str, owner: object, name: str, replacement: Callable[..., Any]) -> None:
    original = getattr(owner, name)

    def either(*args: Any, **kwargs: Any) -> Any:
        return (replacement if stage in switches.off else original)(*args, **kwargs)

    setattr(owner, name, either)


def _middleware(switches: Switches, stage: str, name: str) -> None:
    from proxyd import app

    original = getattr(app, name)

    @web.middleware
    async def either(request: web.Request, handler: Any) -> web.StreamResponse:
        if stage in switches.off:
            return await handler(request)  # type: ignore[no-any-return]
        return await original(request, handler)  # type: ignore[no-any-return]

    setattr(app, name, either)


async def _no_hook(request: web.Request, response: web.StreamResponse) -> None:
    return None


def _memo(function: Callable[..., Any], key: Callable[..., Any], copy: Callable[[Any], Any] = lambda v: v) -> Any:
    """``function`` answered from a cache: what remains is the cost of the call itself."""
    cache: dict[Any, Any] = {}

    def cached(*args: Any) -> Any:
        k = key(*args)
        if k not in cache:
            cache[k] = function(*args)
        return copy(cache[k])

    return cached


# name -> what is switched off
STAGES: dict[str, str] = {
    "access_line": "the access line, rendered and written",
    "log_chain": "structlog's processors for other lines (the access line skips them): JSON rendering only",
    "redaction": "redaction of log lines that go through the chain",
    "metrics": "every Prometheus update (a no-op child)",
    "observation": "Observer.finish: metrics, access line, health, traffic list",
    "traffic_ring": "the page's list of recent requests",
    "health_feedback": "real traffic's effect on provider health",
    "guard": "the guard middleware (Host, Origin, token, in-flight count)",
    "observe_middleware": "the observe middleware (and so Observer.finish)",
    "error_boundary": "the error-boundary middleware",
    "response_hooks": "on_response_prepare: CORS headers, x-proxyd-provider/-model",
    "json_parse": "the request's JSON parse (answered from a cache)",
    "routing": "routing (answered from a cache)",
    "headers": "building the upstream request's headers (from a cache)",
    "stream_check": "the chat StreamCheck: SSE decoding, usage, the end-of-stream rule",
    "first_token": "the first-token search in each chunk",
}


def install(switches: Switches) -> None:
    """Patch every stage to ask ``switches`` on each call (before the app is made)."""
    from proxyd import app, forward, jsonbody
    from proxyd.log import Redactor
    from proxyd.metrics import Metrics
    from proxyd.observe import Observation, Observer
    from proxyd.routing import Router
    from proxyd.wires.chat import ChatWire

    _switch(switches, "access_line", Observer, "_log", lambda self, obs, duration, reason: None)
    _switch(switches, "redaction", Redactor, "__call__", lambda self, logger, method, event: event)
    _switch(switches, "metrics", Metrics, "child", lambda self, metric, *labels: _Nop())
    _switch(switches, "observation", Observer, "finish", lambda self, obs: None)
    _switch(switches, "health_feedback", Observer, "_update_health", lambda self, obs, reason: None)
    _switch(switches, "first_token", Observation, "streaming", lambda self: None)
    _switch(switches, "stream_check", ChatWire, "check", lambda self: None)
    _switch(switches, "json_parse", jsonbody, "parse_object", _memo(jsonbody.parse_object, bytes, dict))
    _switch(switches, "routing", Router, "route", _memo(Router.route, lambda r, model, pinned: (id(r), model, pinned)))
    headers = vars(forward)["upstream_request_headers"]
    _switch(switches, "headers", forward, "upstream_request_headers",
            _memo(headers, lambda items, provider: provider.name, list))  # fmt: skip
    for stage, name in (("guard", "guard"), ("observe_middleware", "observe_requests"),
                        ("error_boundary", "_error_boundary")):  # fmt: skip
        _middleware(switches, stage, name)
    for hook in ("add_cors_headers", "name_the_target"):
        _switch(switches, "response_hooks", app, hook, _no_hook)
    original_init = Observer.__init__

    def init(self: Observer, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.recent = _RingSwitch(self.recent, switches)  # type: ignore[assignment]

    Observer.__init__ = init  # type: ignore[method-assign]


class _RingSwitch:
    """The traffic ring, or nothing, as the switches say."""

    def __init__(self, ring: Any, switches: Switches) -> None:
        self._ring, self._switches = ring, switches

    def append(self, entry: Any) -> None:
        if "traffic_ring" not in self._switches.off:
            self._ring.append(entry)

    def __iter__(self) -> Any:
        return iter(self._ring)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablate", description=__doc__)
    parser.add_argument("--switches", required=True, help="the file read on SIGUSR2: stage names, or all")
    parser.add_argument("serve", nargs=argparse.REMAINDER, help="-- then proxyd serve's arguments")
    args = parser.parse_args(argv)
    switches = Switches()
    install(switches)
    path = Path(args.switches)

    def reread(signum: int, frame: FrameType | None) -> None:
        names = path.read_text().split() if path.exists() else []
        switches.set(frozenset(STAGES) if names == ["all"] else frozenset(n for n in names if n in STAGES))
        time.tzset()  # marks the moment for callgrind (bench.instructions); a no-op otherwise

    signal.signal(signal.SIGUSR2, reread)
    from proxyd.cli import main as proxyd_main

    return proxyd_main(["serve", *[a for a in args.serve if a != "--"]])


if __name__ == "__main__":
    sys.exit(main())
