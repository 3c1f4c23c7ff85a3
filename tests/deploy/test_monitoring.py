"""Alerts and dashboard: promtool accepts and unit-tests the rules; every series they and the
dashboard name is one that a real ``brs start`` exports on /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import render, tool
from podsim import Pod

pytestmark = pytest.mark.tools("promtool")

HERE = Path(__file__).resolve().parent
SERIES = re.compile(r"\bbrs_[a-z_]+\b")


def _rule_groups() -> list[dict[str, Any]]:
    values = {"metrics": {"prometheusRule": {"enabled": True}}}
    (rule,) = render.documents(render.helm_template(values, show_only=["templates/prometheusrule.yaml"]))
    return list(rule["spec"]["groups"])


def _dashboard() -> dict[str, Any]:
    return dict(json.loads((render.CHART / "files" / "dashboard.json").read_text()))


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": _rule_groups()}))
    return path


def test_promtool_checks_the_rules(rules_file: Path) -> None:
    result = subprocess.run([tool("promtool"), "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_rule_unit_tests(rules_file: Path) -> None:
    tests = rules_file.parent / "alerts_test.yaml"
    shutil.copy(HERE / "alerts_test.yaml", tests)
    result = subprocess.run([tool("promtool"), "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", tests.read_text()))
    alerts = {rule["alert"] for group in _rule_groups() for rule in group["rules"]}
    assert tested == alerts, f"alerts without a unit test: {sorted(alerts - tested)}"


def test_deploy_rules_are_the_charts() -> None:
    (document,) = [d for d in yaml.safe_load_all((render.ROOT / "deploy" / "prometheusrule.yaml").read_text()) if d]
    assert document["spec"]["groups"] == _rule_groups()


def test_dashboard_covers_what_operators_ask(tmp_path: Path) -> None:
    dashboard = _dashboard()
    titles = {panel["title"] for panel in dashboard["panels"]}
    for wanted in ("Age of the newest backup", "Backup duration", "Backup size", "Failures by stage",
                   "Verifications (drills, API, restores)", "Restores and fallbacks", "Storage errors"):  # fmt: skip
        assert wanted in titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.fixture
def scrape(pods: Callable[..., Pod]) -> set[str]:
    """Sample names on /metrics of a real ``brs start`` (simulated pod) after a backup.

    The sidecar creates every labelled series at zero when it starts, so one backup is enough
    for every series to be on the page.
    """
    pod = pods("metrics")
    pod.start()
    pod.wait_ready()
    pod.write("one")
    pod.backup()
    names = set()
    for line in pod.metrics().splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_dashboard_and_alerts_use_only_exported_series(scrape: set[str]) -> None:
    assert "brs_backup_duration_seconds_bucket" in scrape
    dashboard = json.dumps(_dashboard())
    used = set(SERIES.findall(dashboard))
    assert used, "the dashboard queries no brs series"
    assert used <= scrape, f"the dashboard queries series brs does not export: {sorted(used - scrape)}"
    rules = json.dumps(_rule_groups())
    # Expressions and annotations (which name series for the reader) alike.
    in_rules = set(SERIES.findall(rules))
    assert in_rules <= scrape, f"the alerts use series brs does not export: {sorted(in_rules - scrape)}"
