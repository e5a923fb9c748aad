"""Pure modules import no I/O libraries, directly or through another proxyd module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "proxyd"
PURE = [
    "listing",
    "compat",
    "providers",
    "services",
    "config",
    "routing",
    "headers",
    "jsonbody",
    "sse",
    "streamcheck",
    "errors",
    "catalog",
    "yamlcheck",
    "synth",
    "usage",
    "healthstate",
    "redact",
    "diagnose",
    "access",
    "keys",
    "translate",
    "translate.errors",
    "translate.tools",
    "translate.request",
]
FORBIDDEN = {"aiohttp", "structlog", "prometheus_client", "yarl", "multidict", "socket", "asyncio"}


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
    bad = {name for name in closure(module) if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"proxyd.{module} imports {sorted(bad)}"


def test_every_module_is_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert all(n <= 600 for n in sizes.values()), sizes
