"""Answers the page's requests: its three files, its data (``GET /ui/api/state``), and its
buttons (``POST``/``DELETE /ui/api/...``).

The guard has already applied the Host, Origin and token rules of the API. A request that
changes something (or spends a provider's tokens, as Test does) must also come from proxyd's
own page: an ``Origin`` naming the host it was sent to, and the page's anti-CSRF value
(:mod:`proxyd.page.csrf`) in a header. The page's files carry a strict Content-Security-Policy:
nothing but proxyd itself is ever loaded or called.
"""

from __future__ import annotations

import re
import secrets
import time
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from aiohttp import web

from proxyd import __version__, jsonbody
from proxyd.access import ANYONE, same_origin
from proxyd.checkup.run import listing_diagnosis
from proxyd.config.loader import EXAMPLE_CONFIG
from proxyd.diagnosis import Diagnosis
from proxyd.errors import ProxyError
from proxyd.failover import group_report
from proxyd.local.supervisor import LOCAL
from proxyd.observe import CLIENT, OBSERVER
from proxyd.page import actions, csrf
from proxyd.page.forms import provider_form, set_form
from proxyd.page.usage import usage_data
from proxyd.page.view import document
from proxyd.reload import RELOADS, Reloader
from proxyd.runtime import RUNTIME
from proxyd.visibility import page_for

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_FILES = {"/": ("index.html", "text/html"), "/ui/page.js": ("page.js", "text/javascript"),
          "/ui/i18n.js": ("i18n.js", "text/javascript"), "/ui/tabs.js": ("tabs.js", "text/javascript"),
          "/ui/page.css": ("page.css", "text/css")}  # fmt: skip
_CATALOG = re.compile(r"/ui/i18n/([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\.json")  # a language's words: i18n/LANG.json
_SAFE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Why the page cannot change the config (the page's catalogs say it as ``not_editable.KEY``).
NOT_EDITABLE = {
    "no_config": "proxyd was started without a config file: the page shows it but cannot change it",
    "example_config": "proxyd runs on its example config: run proxyd init, then proxyd serve, to edit yours",
}


class PageState:
    """The page's secret, the last Test of each provider, and its files once read."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.tests: dict[str, dict[str, Any]] = {}
        self._files: dict[str, bytes] = {}

    def file(self, name: str) -> bytes:
        if name not in self._files:
            self._files[name] = self._asset(name).read_bytes()
        return self._files[name]

    def has(self, name: str) -> bool:
        return name in self._files or self._asset(name).is_file()

    @staticmethod
    def _asset(name: str) -> Traversable:
        return resources.files("proxyd.page").joinpath("assets", *name.split("/"))


PAGE = web.AppKey("page", PageState)


def is_page(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


async def serve_page(request: web.Request) -> web.StreamResponse:
    path, method = request.path, request.method
    if path in _FILES and method in ("GET", "HEAD"):
        return _file(request, path)
    catalog = _CATALOG.fullmatch(path)
    if catalog and method in ("GET", "HEAD") and request.app[PAGE].has(f"i18n/{catalog[1]}.json"):
        body = request.app[PAGE].file(f"i18n/{catalog[1]}.json")
        return web.Response(body=body, content_type="application/json", charset="utf-8", headers=_SAFE_HEADERS)
    if path == "/ui/api/state" and method in ("GET", "HEAD"):
        return web.json_response(_state(request), headers=_SAFE_HEADERS)
    if path == "/ui/api/usage" and method in ("GET", "HEAD"):
        return web.json_response(await usage_data(request), headers=_SAFE_HEADERS)
    if path.startswith("/ui/api/") and method in ("POST", "DELETE"):
        _from_own_page(request)
        return web.json_response(await _change(request, path[len("/ui/api/") :], method), headers=_SAFE_HEADERS)
    raise ProxyError(404, f"the page has no {method} {path[:100]}", code="unknown_path")


def _file(request: web.Request, path: str) -> web.Response:
    name, ctype = _FILES[path]
    body = request.app[PAGE].file(name)
    if name == "index.html":  # a fresh anti-CSRF value for each page load
        value = csrf.sign(request.app[PAGE].secret, secrets.token_hex(16))
        body = body.replace(b"{{csrf}}", value.encode()).replace(b"{{version}}", __version__.encode())
    return web.Response(body=body, content_type=ctype, charset="utf-8", headers=_SAFE_HEADERS)


def _from_own_page(request: web.Request) -> None:
    origin, host = request.headers.get("Origin"), request.headers.get("Host", "")
    if origin is None or not same_origin(origin, host):
        raise ProxyError(403, "changes are made only from proxyd's own page (open it at /)", code="not_own_page")
    if not csrf.valid(request.app[PAGE].secret, request.headers.get(csrf.HEADER)):
        raise ProxyError(403, "the page's anti-CSRF value is missing or stale: reload the page", code="stale_page")


def _state(request: web.Request) -> dict[str, Any]:
    runtime = request.app[RUNTIME]
    gen = runtime.current
    timeout, slow = gen.config.health.timeout_s, gen.config.health.degraded_after_s
    local = request.app[LOCAL].report() if LOCAL in request.app else {}
    problems: dict[str, Diagnosis | None] = {}
    for p in gen.config.providers:
        health = runtime.health.get(p.name)
        last = health.last_probe if health is not None else None
        problems[p.name] = p.disabled or (listing_diagnosis(p, last, timeout, slow) if last is not None else None)
        if problems[p.name] is None:  # a local server that crashed says why, and what to do
            problems[p.name] = _local_problem(request, p.name)
    now = time.time()
    groups = group_report(gen.config.groups, runtime.targets, runtime.health, runtime.busy, now)
    tool_calls = {p.name: runtime.tool_health.of(p.name) for p in gen.config.providers}
    doc = document(gen.config, gen.router, runtime.health, problems, request.app[PAGE].tests,
                   request.app[OBSERVER].recent, now, groups, tool_calls, runtime.wires)  # fmt: skip
    for shown in doc["providers"]:
        name = shown["name"]
        shown["local"] = local.get(name)
        shown["local_models"] = {
            key.split("/", 1)[1]: v for key, v in local.items() if key.startswith(f"{name}/")
        } or None
    path, why = _config_file(request)
    role = request.get(CLIENT, ANYONE).role
    reloader = request.app.get(RELOADS)
    failed = reloader.last if reloader is not None and (reloader.last or {}).get("result") == "failure" else None
    doc.update(version=__version__, config=str(path) if path else None, editable=why is None,
               not_editable=NOT_EDITABLE[why] if why else None, not_editable_code=why,
               role=role, can_test=role == "admin", reload_failed=failed)  # fmt: skip
    return page_for(doc, role)


def _local_problem(request: web.Request, provider: str) -> Diagnosis | None:
    if LOCAL not in request.app:
        return None
    servers = request.app[LOCAL].servers
    failed = [s for name, s in servers.items() if name.split("/", 1)[0] == provider and s.state == "crashed"]
    return failed[0].error if failed else None


def _config_file(request: web.Request) -> tuple[Path | None, str | None]:
    """The file the page edits, or why there is none to edit (a key of :data:`NOT_EDITABLE`)."""
    reloader = request.app.get(RELOADS)
    if reloader is None:
        return None, "no_config"
    if reloader.path == EXAMPLE_CONFIG:
        return reloader.path, "example_config"
    return reloader.path, None


def _reloader(request: web.Request) -> tuple[Path, Reloader]:
    path, why = _config_file(request)
    if why is not None or path is None:
        raise ProxyError(409, NOT_EDITABLE[why or "no_config"], code="not_editable")
    return path, request.app[RELOADS]


async def _change(request: web.Request, action: str, method: str) -> dict[str, Any]:
    if method == "DELETE" and action.startswith("providers/"):
        path, reloader = _reloader(request)
        return await actions.remove(action[len("providers/") :], path, reloader)
    body = jsonbody.parse_object(await request.read()) if method == "POST" else None
    config = request.app[RUNTIME].current.config
    if action == "test":
        name = body.get("provider") if body else None
        verdict = await actions.test(config, name if isinstance(name, str) else "")
        request.app[PAGE].tests[verdict["provider"]] = {**verdict, "at": time.time()}
        return verdict
    if action == "local":  # an admin's Start or Stop of a local server
        name, what = (body or {}).get("provider"), (body or {}).get("action")
        if not isinstance(name, str) or what not in ("start", "stop"):
            raise ProxyError(400, 'send {"provider": NAME, "action": "start" or "stop"}', code="bad_local_action")
        local = request.app[LOCAL]
        await (local.start(name) if what == "start" else local.stop(name))
        return {"done": f"{name} {'started' if what == 'start' else 'stopped'}", "local": local.report()[name]}
    if action == "catalog":
        where, _ = _config_file(request)  # relative key files are read from the config's folder
        return await actions.catalog(provider_form(body), where or Path.cwd() / "proxyd.yaml", config)
    if action == "providers":
        return await actions.add(provider_form(body), *_reloader(request), config)
    if action == "set":
        return await actions.set_value(set_form(body), *_reloader(request))
    raise ProxyError(404, f"the page has no {method} /ui/api/{action[:100]}", code="unknown_path")
