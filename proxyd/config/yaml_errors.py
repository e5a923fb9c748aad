"""A YAML syntax error in words a person can act on (pure).

Both parsers proxyd uses (PyYAML to load, ruamel to edit) give two marks: where the construct
that broke started (``context_mark``) and where the parser gave up (``problem_mark``). A typo
on line 7 (a missing ``:``) is usually reported where the parser gave up, lines later; the
message names the start, shows that line, and says where the parser stopped.
"""

from __future__ import annotations

from typing import Any, Protocol


class Mark(Protocol):
    line: int  # 0-based, as both parsers count
    column: int


def yaml_problem(source: str, text: str, exc: Any) -> list[str]:
    """The error's lines: ``source:LINE:COL: invalid YAML: problem (...)`` and the line it names."""
    start: Mark | None = getattr(exc, "context_mark", None)
    stop: Mark | None = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    first = start if start is not None and (stop is None or start.line <= stop.line) else stop
    if first is None:
        return [f"{source}: invalid YAML: {problem}"]
    where = f"{source}:{first.line + 1}:{first.column + 1}"
    detail = ""
    if stop is not None and first is not stop and (stop.line, stop.column) != (first.line, first.column):
        context = getattr(exc, "context", None)
        stopped = f"the parser stopped at line {stop.line + 1}, column {stop.column + 1}"
        detail = f" ({context + ', ' if context else ''}{stopped})"
    lines = text.splitlines()
    shown = lines[first.line].rstrip() if first.line < len(lines) else ""
    out = [f"{where}: invalid YAML: {problem}{detail}"]
    if shown.strip():
        out.append(f"  line {first.line + 1}: {shown[:200]}")
    return out
