"""Pod simulation: the metrics endpoint and the API's bearer token on a non-loopback address."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


from podsim import Pod, metric_value, wait_for

from brs.errors import ConfigError
from brs.testing.helpers import brs_executable


def test_metrics_series_after_a_backup(pods: Callable[..., Pod]) -> None:
    pod = pods()
    # The drill schedule never fires during the test; the verification below is requested.
    pod.start("--object-max-keep", "2", "--verify-cron-schedule", "0 0 1 1 *")
    pod.wait_started(1)
    pod.wait_ready()
    before = metric_value(pod.metrics(), "brs_backup_last_success_timestamp_seconds")
    assert before == 0.0
    assert metric_value(pod.metrics(), "brs_last_verified_timestamp_seconds") == 0.0
    assert any(r.get("verify_schedule") == "0 0 1 1 *" for r in pod.log_records()), pod.logs()
    pod.write("m")
    for _ in range(3):
        pod.backup()
    text = pod.metrics()
    now = time.time()

    last_success = metric_value(text, "brs_backup_last_success_timestamp_seconds") or 0
    last_attempt = metric_value(text, "brs_backup_last_attempt_timestamp_seconds") or 0
    assert now - 600 < last_success <= now + 5 and now - 600 < last_attempt <= last_success
    assert metric_value(text, "brs_backups_total", [("result", "success")]) == 3.0
    assert metric_value(text, "brs_backups_total", [("result", "failure")]) == 0.0
    assert metric_value(text, "brs_backup_duration_seconds_count") == 3.0
    assert (metric_value(text, "brs_backup_last_size_bytes", [("kind", "raw")]) or 0) > 0
    assert (metric_value(text, "brs_backup_last_size_bytes", [("kind", "stored")]) or 0) > 0
    assert metric_value(text, "brs_backups_retained") == 2.0  # --object-max-keep 2
    newest = metric_value(text, "brs_backup_newest_created_timestamp_seconds") or 0
    assert now - 600 < newest <= last_success
    assert metric_value(text, "brs_initializer_state", [("brs_initializer_state", "done")]) == 1.0
    assert metric_value(text, "brs_initializer_state", [("brs_initializer_state", "restoring")]) == 0.0
    assert metric_value(text, "brs_database_ready") == 1.0
    assert metric_value(text, "brs_info", [("db", "journaldb"), ("storage", "local")]) == 1.0
    assert metric_value(text, "brs_restores_total", [("trigger", "startup"), ("result", "success")]) == 0.0
    assert metric_value(text, "brs_backup_errors_total", [("stage", "upload")]) == 0.0

    status, body = pod.post("/v1/backups/latest/verify")
    assert status == 200, body
    assert pod.get("/v1/nothing-here")[0] == 404
    status, body = pod.post("/v1/backups/20000101T000000000000Z-000000/verify")
    assert status == 404 and body["type"] == "BackupNotFound"
    request = urllib.request.Request(pod.url + "/v1/restore", data=b"{not json", method="POST")
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a malformed body was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 400 and "not JSON" in json.loads(error.read())["error"]
    assert pod.get("/healthz") == (200, {"ok": True})
    text = pod.metrics()
    assert metric_value(text, "brs_verifications_total", [("result", "ok")]) == 1.0
    # An unknown version is the caller's mistake, not a failed verification.
    assert metric_value(text, "brs_verifications_total", [("result", "error")]) == 0.0
    verified = metric_value(text, "brs_last_verified_timestamp_seconds") or 0
    assert now - 600 < verified <= time.time() + 5


def test_non_loopback_api_needs_the_token(pods: Callable[..., Pod]) -> None:
    pod = pods(token="s3cret-token")
    # 0.0.0.0 is reachable from other hosts; the test talks to it through 127.0.0.1.
    pod.start("--bind-addr", "0.0.0.0", "--api-token-file", str(pod.root / "token"))
    pod.wait_started(1)
    pod.wait_ready()

    assert pod.get("/v1/backups")[0] == 200  # reading needs no token
    status, body = pod.request("POST", "/v1/backups", {})
    assert status == 401 and "bearer token" in body["error"]
    status, body = pod.request("POST", "/v1/backups", {}, token="wrong")
    assert status == 401
    status, body = pod.request("POST", "/v1/restore", {"version": "latest"})
    assert status == 401
    status, body = pod.request("POST", "/v1/backups", {}, token="s3cret-token")
    assert status == 201, body

    cli = subprocess.run(
        [brs_executable(), "backup", "--server", pod.url], capture_output=True, text=True, env=pod.env, timeout=120
    )
    assert cli.returncode == 1 and "bearer token" in cli.stderr
    cli = subprocess.run(
        [brs_executable(), "backup", "--server", pod.url, "--api-token-file", str(pod.root / "token")],
        capture_output=True, text=True, env=pod.env, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr


def test_refuses_a_non_loopback_address_without_a_token(tmp_path: Path) -> None:
    pod = Pod(tmp_path)
    result = subprocess.run(pod.sidecar_argv("--bind-addr", "0.0.0.0"), capture_output=True, text=True, env=pod.env, timeout=120)
    assert result.returncode == ConfigError.exit_code
    assert "--api-token-file" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("brs: error:")


def test_refuses_an_invalid_verify_schedule(tmp_path: Path) -> None:
    pod = Pod(tmp_path)
    env = {**pod.env, "BRS_VERIFY_CRON_SCHEDULE": "*/5 * * *"}
    result = subprocess.run(pod.sidecar_argv(), capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == ConfigError.exit_code
    assert "--verify-cron-schedule '*/5 * * *' is not a 5-field cron expression" in result.stderr, result.stderr


def test_restore_without_a_waiter_is_refused_and_changes_nothing(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("only")
    pod.backup()
    pod.kill()

    pod.start_sidecar()  # no database container this time
    wait_for(lambda: pod.get("/v1/initializer")[1].get("status") == "done", 60, "the initializer")
    status, body = pod.post("/v1/restore", {"version": "latest"})
    assert status == 500 and "brs wait" in body["error"], body
    assert (pod.data / "data.txt").read_text() == "only\n"
    status, state = pod.get("/v1/initializer")
    assert state["status"] == "done" and state["database"]["desired"] == "run"
    status, body = pod.post("/v1/backups")
    assert status == 409 and "not ready" in body["error"]
