"""ruff and mypy stay clean: the suite fails when they do not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff() -> None:
    for args in (
        ("ruff", "check", "proxyd", "tests", "bench", "clients"),
        ("ruff", "format", "--check", "proxyd", "tests", "bench", "clients"),
    ):
        result = run(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
