"""Checking values of a parsed YAML document, each problem recorded with its YAML path (pure)."""

from __future__ import annotations

import difflib
from typing import Any


class Errors:
    """Every problem found, as ``"path: message"`` lines, so a user can fix them all at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def section(raw: object, path: str, errs: Errors) -> dict[str, Any]:
    """An optional mapping: absent is empty; a wrong type is reported and treated as empty."""
    return {} if raw is None else (mapping(raw, path, errs) or {})


def mapping(raw: object, path: str, errs: Errors) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    errs.add(path, f"must be a mapping of keys to values (got {type(raw).__name__})")
    return None


def check_keys(doc: dict[str, Any] | None, allowed: set[str], path: str, errs: Errors) -> None:
    for key in doc or {}:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(allowed))})"
        errs.add(f"{path}.{key}" if path else str(key), f"unknown key{hint}")


def number(doc: dict[str, Any] | None, key: str, default: float, path: str, errs: Errors, *, lo: float) -> float:
    value = (doc or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < lo:
        errs.add(f"{path}.{key}", f"must be a number of at least {lo}")
        return default
    return float(value)


def integer(doc: dict[str, Any] | None, key: str, default: int, path: str, errs: Errors, *, lo: int, hi: int) -> int:
    value = (doc or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        errs.add(f"{path}.{key}", f"must be a whole number from {lo} to {hi}")
        return default
    return value
