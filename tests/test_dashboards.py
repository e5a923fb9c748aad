"""The Grafana dashboard and the Prometheus alert rules in docs/: promtool checks and unit-tests
the rules on synthetic series, and every series the dashboard and the rules name is one proxyd
exports (a renamed metric breaks this test, not a user's dashboard)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from proxyd.metrics import Metrics

DOCS = Path(__file__).resolve().parent.parent / "docs"
DASHBOARD = DOCS / "grafana" / "proxyd.json"
RULES = DOCS / "prometheus" / "proxyd-alerts.yml"
_NAME_RE = re.compile(r"\bproxyd_[a-z_]+")


def exported() -> set[str]:
    """Every sample name proxyd's metrics can produce (counters' _total, histograms' _bucket...)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum")}
        else:
            names.add(family.name)
    return names


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]


def test_the_dashboard_and_the_rules_name_only_exported_series() -> None:
    named = {n for e in dashboard_exprs() for n in _NAME_RE.findall(e)} | set(_NAME_RE.findall(RULES.read_text()))
    assert named and not named - exported(), sorted(named - exported())


def test_the_dashboard_shows_what_the_issue_asks() -> None:
    exprs = " ".join(dashboard_exprs())
    for series in ("proxyd_requests_total", "proxyd_upstream_errors_total", "proxyd_time_to_first_token_seconds_bucket",
                   "proxyd_request_duration_seconds_bucket", "proxyd_provider_state", "proxyd_tokens_total",
                   "proxyd_translations_total", "proxyd_config_reloads_total", "proxyd_store_errors_total"):  # fmt: skip
        assert series in exprs
    assert "sum by (client)" in exprs and "sum by (client, kind)" in exprs  # per client (listen.tokens)


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (.ci/run installs Debian's prometheus)"
)
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        ["promtool", "test", "rules", "proxyd-alerts.test.yml"], cwd=RULES.parent, capture_output=True, text=True
    )
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
