"""The metrics endpoint passes promtool's lint, exports no *_created series, and publishes the
next scheduled runs; /readyz says what is true now."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from podsim import Pod, metric_value, wait_for


def _promtool() -> str:
    candidates = [
        os.environ.get("BRS_PROMTOOL"),
        str(Path(os.environ.get("BRS_TEST_ROOT", "/opt/brs-test")) / "deploy-tools" / "bin" / "promtool"),
        shutil.which("promtool"),
    ]
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    assert found, "promtool is missing: make deploy-tools installs it (Debian package prometheus)"
    return found


def test_a_live_scrape_passes_promtool_and_has_no_created_series(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--backup-cron-schedule", "@daily", "--verify-cron-schedule", "@weekly")
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("m")
    pod.backup()
    assert pod.post("/v1/backups/latest/verify")[0] == 200
    text = pod.metrics()
    lint = subprocess.run([_promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert "brs_backups_total" in names and not [name for name in names if name.endswith("_created")], names
    now = time.time()
    wait_for(
        lambda: (metric_value(pod.metrics(), "brs_next_run_timestamp_seconds", [("job", "verify")]) or 0) > now, 30, "drills"
    )
    text = pod.metrics()
    backup_next = metric_value(text, "brs_next_run_timestamp_seconds", [("job", "backup")]) or 0
    verify_next = metric_value(text, "brs_next_run_timestamp_seconds", [("job", "verify")]) or 0
    assert now < backup_next <= now + 86400 + 60 and now < verify_next <= now + 7 * 86400 + 60
    status, report = pod.get("/v1/status")
    assert status == 200 and abs(datetime.fromisoformat(report["next_runs"]["backup"]).timestamp() - backup_next) < 1

    status, ready = pod.get("/readyz")
    assert status == 200 and ready["message"] == "the database answers its probe", ready
