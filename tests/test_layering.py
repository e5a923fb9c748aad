"""Pure modules import no I/O libraries, directly or through another proxyd module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "proxyd"
# A module is pure when its docstring says so ("(pure)", "(pure, no I/O)"...), and every module of
# wires/ is: the set is read from the code, so a new pure module is checked from its first day.
MARKER = re.compile(r"\(pure\b")
FORBIDDEN = {
    "aiohttp", "structlog", "prometheus_client", "yarl", "multidict", "watchfiles", "yaml", "redis",  # I/O libraries
    "asyncio", "socket", "ssl", "select", "selectors", "signal", "subprocess", "threading", "multiprocessing",
    "concurrent", "os", "pathlib", "shutil", "tempfile", "io", "sqlite3", "logging", "sys", "atexit",
    "importlib", "http", "urllib.request", "socketserver",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_pure(path: Path) -> bool:
    if "wires" in path.relative_to(PACKAGE).parts:
        return True
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return bool(MARKER.search(doc.split("\n\n")[0]))


PURE = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if is_pure(p))


def imports_of(module: str) -> set[str]:
    path = PACKAGE / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("proxyd."):
                todo.append(name.removeprefix("proxyd."))
    return seen


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    bad = {name for name in closure(module) if name in FORBIDDEN or name.split(".")[0] in FORBIDDEN}
    assert not bad, f"proxyd.{module} imports {sorted(bad)}"


def test_every_module_the_readme_calls_pure_is_checked() -> None:
    named = {
        "config.parse", "config.providers", "config.services", "fitting", "listing", "config.settings", "routing",
        "catalog", "headers", "jsonbody", "jsoncodec", "sse", "errors", "usage", "reachability", "redact",
        "checkup.diagnose", "access", "config.keys", "autowire", "answer_plan", "decode", "stream_end",
        "config.yaml_fields", "wires", "traffic", "page.view", "page.forms", "page.csrf", "config.clients",
        "config.groups", "config.spend", "spend.prices", "spend.rows", "spend.report", "spend.limit_headers",
        "store.base", "store.where", "diagnosis",
        "wires.pivot", "wires.chat", "wires.registry", "wires.turn", "wires.errors", "wires.think", "wires.responses",
        "wires.responses.machine", "wires.responses.from_pivot", "wires.responses.to_pivot", "wires.responses.tools",
        "wires.responses.request_to_pivot", "wires.responses.request_from_pivot", "wires.responses.response",
        "toolcalls", "toolcalls.offered", "toolcalls.schemas", "toolcalls.judge", "toolcalls.in_text",
        "toolcalls.hold", "toolcalls.findings", "toolcalls.watch", "toolcalls.verdicts",
    }  # fmt: skip
    assert named <= set(PURE), sorted(named - set(PURE))


def test_every_module_is_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert all(n <= 600 for n in sizes.values()), sizes


def test_only_the_wire_adapters_reach_into_an_adapter() -> None:
    """The app, the relay and the rest see wires through the registry, the pivot and the turn,
    never an adapter's insides: nothing outside proxyd/wires names a pair of wires."""
    public = {
        "proxyd.wires.registry",
        "proxyd.wires.translator",
        "proxyd.wires.pivot",
        "proxyd.wires.turn",
        "proxyd.wires",
    }
    outside = [p for p in PACKAGE.rglob("*.py") if "wires" not in p.relative_to(PACKAGE).parts]
    leaks = {
        module_name(p): sorted(
            n for n in imports_of(module_name(p)) if n.startswith("proxyd.wires") and n not in public
        )
        for p in outside
    }
    assert not {k: v for k, v in leaks.items() if v}
