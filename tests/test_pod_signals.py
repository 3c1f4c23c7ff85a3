"""Pod simulation: one operation at a time, and SIGTERM to either container."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any


from podsim import Pod, pid_alive, wait_for

from brs.errors import BusyError
from brs.testing.helpers import brs_executable


def _backup_in_background(pod: Pod) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["status"], outcome["body"] = pod.post("/v1/backups")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_for(lambda: pod.get("/v1/initializer")[1].get("operation") == "backup", 60, "the backup to start")
    return thread, outcome


def _listed_backups(pod: Pod) -> list[dict[str, Any]]:
    result = subprocess.run(
        [brs_executable(), "backups", "list", "--json", "--local-provider-backup-path", str(pod.backups)],
        capture_output=True, text=True, env=pod.env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_overlapping_operations_get_busy_and_sigterm_lets_the_backup_finish(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--journaldb-dump-delay", "4", "--shutdown-grace", "60")
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("x")

    thread, _outcome = _backup_in_background(pod)
    status, body = pod.post("/v1/backups")
    assert status == 409 and "busy" in body["error"]
    status, body = pod.post("/v1/restore", {"version": "latest"})
    assert status == 409 and "busy" in body["error"]
    cli = subprocess.run(
        [brs_executable(), "backup", "--server", pod.url], capture_output=True, text=True, env=pod.env, timeout=120
    )
    assert (
        cli.returncode == BusyError.exit_code
        and cli.stderr.startswith("brs: error:")
        and "busy" in cli.stderr
        and cli.stderr.count("\n") == 1
    )

    assert pod.sidecar is not None
    pod.sidecar.send_signal(signal.SIGTERM)
    assert pod.sidecar.wait(120) == 0, pod.logs()
    thread.join(120)
    # The grace period was long enough: the backup completed, is listed and intact.
    listed = _listed_backups(pod)
    assert len(listed) == 1, listed
    verify = subprocess.run(
        [brs_executable(), "verify", listed[0]["version"], "--local-provider-backup-path", str(pod.backups)],
        capture_output=True, text=True, env=pod.env, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    # The database container is independent of the sidecar: it keeps running.
    assert pod.waiter is not None and pod.waiter.poll() is None


def test_sigterm_during_a_backup_abandons_it_cleanly(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--journaldb-dump-delay", "30", "--shutdown-grace", "1")
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("y")
    _backup_in_background(pod)
    assert pod.sidecar is not None
    pod.sidecar.send_signal(signal.SIGTERM)
    assert pod.sidecar.wait(120) == 0, pod.logs()
    assert any("abandoning the running backup" in str(r.get("msg")) for r in pod.log_records())
    assert _listed_backups(pod) == []


def test_sigterm_to_wait_stops_the_database_gracefully(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    started = pod.wait_started(1)
    pod.wait_ready()
    assert pod.waiter is not None
    pod.waiter.send_signal(signal.SIGTERM)
    assert pod.waiter.wait(120) == 0, pod.logs("waiter")
    stops = [e for e in pod.events() if e["event"] == "stop"]
    assert stops and stops[0]["signal"] == "SIGTERM" and stops[0]["pid"] == started["pid"]
    wait_for(lambda: not pid_alive(int(started["pid"])), 30, "the database process to be gone")
    # The sidecar learns that the database is gone: no longer ready, no backups of it.
    assert pod.sidecar is not None and pod.sidecar.poll() is None
    wait_for(lambda: pod.get("/readyz")[0] == 503, 60, "the sidecar to report not ready")
    status, body = pod.post("/v1/backups")
    assert status == 409 and "not ready" in body["error"]
