"""Installing a client's release from npm into :data:`clients.versions.CACHE`, once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from clients.versions import Client


class CannotInstall(Exception):
    """npm is missing or the release cannot be had; the message says which."""


def installed(client: Client, version: str) -> list[str]:
    """The argv of the release, installing it first when it is not there yet."""
    program = client.program(version)
    if not _exists(program):
        _npm_install(client, version)
        program = client.program(version)
    if not _exists(program):
        raise CannotInstall(f"{client.package}@{version} installed, but {program[-1]} is not there")
    return program


def newest(client: Client) -> str:
    """The release npm's ``latest`` tag names today."""
    done = subprocess.run([_npm(), "view", client.package, "version"], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not done.stdout.strip():
        raise CannotInstall(f"npm view {client.package} failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip().splitlines()[-1]


def _exists(program: list[str]) -> bool:
    return Path(program[-1]).exists()


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise CannotInstall("npm is not installed (.ci/run installs it)")
    return npm


def _npm_install(client: Client, version: str) -> None:
    folder = client.folder(version)
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [_npm(), "install", "--no-audit", "--no-fund", "--prefix", str(folder), f"{client.package}@{version}"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        raise CannotInstall(f"npm install {client.package}@{version} failed: {done.stderr.strip()[-500:]}")
