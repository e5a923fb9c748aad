"""The systemd units in ``systemd/`` pass ``systemd-analyze verify`` as user units.

The sandbox has no user manager, so verify runs against a throwaway ``$XDG_RUNTIME_DIR`` and a
``$HOME`` whose ``.local/bin/proxyd`` is this checkout's, which is what ``ExecStart=%h/...`` names.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (systemd)")


def verify(units: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home, runtime = tmp_path / "home", tmp_path / "run"
    (home / ".local" / "bin").mkdir(parents=True)
    runtime.mkdir(mode=0o700)
    (home / ".local" / "bin" / "proxyd").symlink_to(Path(sys.executable).parent / "proxyd")
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["systemd-analyze", "verify", "--user", "--man=no", "proxyd.service", "proxyd.socket"],
        cwd=units, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_units_verify_cleanly(tmp_path: Path) -> None:
    done = verify(UNITS, tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo'd directive is reported."""
    broken = tmp_path / "units"
    shutil.copytree(UNITS, broken)
    service = broken / "proxyd.service"
    service.write_text(service.read_text().replace("Type=notify", "Type=notifyy"))
    done = verify(broken, tmp_path)
    assert "Failed to parse service type" in done.stderr


def test_service_unit_speaks_the_notify_protocol() -> None:
    lines = set((UNITS / "proxyd.service").read_text().splitlines())
    for wanted in (
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "PrivateUsers=yes",
        "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    ):
        assert wanted in lines, wanted
    assert "ListenStream=127.0.0.1:8787" in (UNITS / "proxyd.socket").read_text()
