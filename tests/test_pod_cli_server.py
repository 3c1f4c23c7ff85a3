"""Through a running sidecar: the same JSON as locally, one backup's routes, the status route."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

from podsim import Pod

from brs.errors import BackupNotFound
from brs.testing.helpers import brs_executable


def _cli(pod: Pod, *args: str, server: bool = True) -> subprocess.CompletedProcess[str]:
    local = ["--db", "journaldb", "--db-data-directory", str(pod.data), "--local-provider-backup-path", str(pod.backups)]
    where = ["--server", pod.url] if server else local
    return subprocess.run([brs_executable(), *where, *args], capture_output=True, text=True, env=pod.env, timeout=180)


def _json(pod: Pod, *args: str, server: bool = True) -> Any:
    result = _cli(pod, *args, "--json", server=server)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_server_and_local_runs_print_the_same_documents(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--verify-cron-schedule", "@yearly", "--backup-cron-schedule", "@daily", "--schedule-jitter", "5")
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("one")
    made = _json(pod, "backup")
    pod.write("two")
    newest = pod.backup()

    remote, local = _json(pod, "backups", "list"), _json(pod, "backups", "list", server=False)
    assert [r["version"] for r in remote] == [r["version"] for r in local]
    assert [r["version"] for r in remote][:2] == [newest, made["version"]]  # then the sidecar's first one
    assert remote[1] == local[1] == {**made, "status": remote[1]["status"], "status_reason": remote[1]["status_reason"]}
    shown = _json(pod, "backups", "show", made["version"])
    assert shown == _json(pod, "backups", "show", made["version"], server=False)
    assert shown["manifest"]["backup_id"] == made["version"]
    verified = _json(pod, "verify", made["version"])
    assert {k: v for k, v in verified.items() if k != "duration"} == {
        k: v for k, v in _json(pod, "verify", made["version"], server=False).items() if k != "duration"
    }
    assert verified["intact"] is True and verified["digest"] == shown["digest"]

    status, report = pod.get("/v1/status")
    assert status == 200 and report["state"] == "done" and report["database_ready"] is True
    assert report["last"]["backup"]["ok"] is True and report["last"]["backup"]["version"] == newest
    assert report["last"]["verify"]["version"] == made["version"]
    assert set(report["next_runs"]) == {"backup", "verify"}

    # One backup's routes answer JSON, errors included, and exit statuses carry over.
    missing = _cli(pod, "backups", "show", "20000101T000000000000Z-000000")
    assert missing.returncode == BackupNotFound.exit_code, missing.stderr
    assert pod.request("DELETE", "/v1/backups/20000101T000000000000Z-000000")[0] == 404
    assert pod.request("PUT", "/v1/backups")[0] == 405
    deleted = _json(pod, "backups", "delete", made["version"])
    assert deleted == {"deleted": [made["version"]], "dry_run": False}
    assert made["version"] not in [r["version"] for r in _json(pod, "backups", "list", server=False)]


def test_prune_through_the_sidecar_and_failed_backups_in_the_status(pods: Callable[..., Pod]) -> None:
    pod = pods()
    fail = pod.root / "fail-dump"
    pod.start("--keep-last", "2", "--journaldb-fail-file", str(fail), "--backup-cron-schedule", "@yearly")
    pod.wait_started(1)
    pod.wait_ready()
    for text in ("one", "two", "three"):
        pod.write(text)
        _json(pod, "backup", "--no-retention", server=False)
    listed = [r["version"] for r in _json(pod, "backups", "list", server=False)]
    assert len(listed) == 3

    typed_policy = _cli(pod, "backups", "prune", "--keep-last", "1")
    assert typed_policy.returncode == 2 and "--keep-last is not available with --server" in typed_policy.stderr
    dry = _json(pod, "backups", "prune", "--dry-run")
    assert dry["dry_run"] is True and [r["version"] for r in dry["keep"]] == listed[:2] and dry["deleted"] == listed[2:]
    assert [r["version"] for r in _json(pod, "backups", "list", server=False)] == listed  # nothing deleted
    pruned = _json(pod, "backups", "prune")
    assert pruned["deleted"] == listed[2:]
    assert [r["version"] for r in _json(pod, "backups", "list", server=False)] == listed[:2]

    fail.write_text("the disk of the test database is on fire")
    failed = _cli(pod, "backup")
    assert failed.returncode != 0 and "on fire" in failed.stderr
    status, report = pod.get("/v1/status")
    assert status == 200 and report["failures"]["error"] is None
    newest = report["failures"]["records"][0]
    assert newest["stage"] == "dump" and "on fire" in newest["error"]
    assert report["last"]["backup"]["ok"] is False
    assert [r["version"] for r in _json(pod, "backups", "list", server=False)] == listed[:2]  # nothing listed, nothing lost
