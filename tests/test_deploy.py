"""deploy/: the team's compose file, HAProxy and Prometheus configs, proxyd's config and the
secrets script, each checked by its own tool where there is one (no Docker engine runs on CI;
tests/test_team.py runs deploy/haproxy.cfg itself in front of two instances)."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxyd.config.parse import parse_config
from tests.daemons import required

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ROOT = DEPLOY.parent


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_haproxy_accepts_its_config() -> None:
    checked = subprocess.run(
        [required("haproxy"), "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout + checked.stderr


def test_the_compose_file_runs_two_instances_behind_haproxy_with_redis_and_prometheus() -> None:
    doc = compose()
    services = doc["services"]
    assert set(services) == {"proxyd-1", "proxyd-2", "haproxy", "redis", "prometheus"}
    for name in ("proxyd-1", "proxyd-2"):
        proxyd = services[name]
        assert (DEPLOY / proxyd["build"]["context"] / proxyd["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
        assert "/readyz" in " ".join(proxyd["healthcheck"]["test"])
        assert proxyd["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "./proxyd:/etc/proxyd:ro" in proxyd["volumes"]  # the folder: edits reach the container
        config = yaml.safe_load((DEPLOY / "proxyd" / "config.yaml").read_text())
        assert float(proxyd["stop_grace_period"].rstrip("s")) > config["shutdown_delay_s"] + config["shutdown_grace_s"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):  # a file of this repository (secrets are made by secrets.sh)
                assert source.startswith("./secrets") or (DEPLOY / source).exists(), volume
    mounted = " ".join(services["haproxy"]["volumes"])
    assert "./haproxy.cfg:" in mounted and services["haproxy"]["depends_on"] == ["proxyd-1", "proxyd-2"]
    assert set(doc["volumes"]) == {"redis-data", "prometheus-data"}


def test_prometheus_scrapes_both_instances_and_loads_the_alerts(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (.ci/run installs Debian's prometheus)")
    shutil.copy(DEPLOY / "prometheus.yml", tmp_path)
    shutil.copy(ROOT / "docs" / "prometheus" / "proxyd-alerts.yml", tmp_path)  # as compose mounts it
    (tmp_path / "proxyd.token").write_text("t\n")
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["proxyd-1:8787", "proxyd-2:8787"]
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./secrets/prometheus.token:/etc/prometheus/proxyd.token:ro" in mounts


def test_secrets_script_and_proxyd_config(tmp_path: Path) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("secrets"))
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-test-key-0123456789"}
    made = subprocess.run(["sh", str(copy / "secrets.sh")], capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stderr
    secrets = copy / "secrets"
    first = {p.name: p.read_text() for p in secrets.iterdir()}
    assert set(first) == {"alice.token", "bob.token", "prometheus.token", "redis.password", "redis.url", "openai.key"}
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert first["redis.url"] == f"redis://:{first['redis.password'].strip()}@redis:6379/0\n"
    assert len({first[f"{n}.token"] for n in ("alice", "bob", "prometheus")}) == 3
    again = subprocess.run(["sh", str(copy / "secrets.sh")], capture_output=True, text=True, env=env)
    assert again.returncode == 0 and {p.name: p.read_text() for p in secrets.iterdir()} == first  # kept
    assert "sk-test-key" not in made.stdout + made.stderr + again.stdout

    raw = yaml.safe_load((copy / "proxyd" / "config.yaml").read_text())
    config = parse_config(raw, env={}, read_file=lambda path: (secrets / Path(path).name).read_text())
    assert [c.client.name for c in config.listen.access.clients] == ["alice", "bob", "prometheus"]
    # Prometheus reads /metrics (a viewer); only alice may change proxyd from the page
    assert [c.client.role for c in config.listen.access.clients] == ["admin", "client", "viewer"]
    assert config.store.url == first["redis.url"].strip() and config.listen.host == "0.0.0.0"
