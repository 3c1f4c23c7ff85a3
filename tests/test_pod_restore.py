"""Pod simulation: ``brs start`` and ``brs wait -- fakedb`` as real processes sharing a data directory.

The database is tests/pod_support/fakedb.py, backed up by the test-only ``journaldb`` plugin
(localfs plus a checksum file, so a damaged data directory is detectable). See
tests/pod_support/brs_testdb.py for why.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable


from podsim import Pod, metric_value, wait_for

from brs.testing.helpers import brs_executable


def _messages(pod: Pod, run: int | None = None) -> list[str]:
    return [str(r.get("msg", "")) for r in pod.log_records("sidecar", run)]


def test_wiped_data_directory_is_restored_before_the_database_starts(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    first = pod.wait_started(1)
    assert first["lines"] == []
    pod.wait_ready()
    assert any("there are no backups" in m and "EMPTY" in m for m in _messages(pod)), pod.logs()
    first_record = pod.log_records()[0]
    assert first_record["msg"].startswith("brs sidecar") and first_record["db"] == "journaldb"
    assert first_record["storage"] == "local" and first_record["version"]

    pod.write("alpha")
    pod.write("beta")
    version = pod.backup()

    pod.kill()
    shutil.rmtree(pod.data)
    pod.start()

    # The database saw the restored content on its very first read: it started after the restore.
    second = pod.wait_started(2)
    assert second["lines"] == ["alpha", "beta"], pod.logs()
    assert any(f"restored backup {version}" in m for m in _messages(pod)), pod.logs()
    pod.wait_ready()
    text = pod.metrics()
    assert metric_value(text, "brs_restores_total", [("trigger", "startup"), ("result", "success")]) == 1.0


def test_corrupt_data_directory_and_damaged_newest_backup(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("one")
    older = pod.backup()
    pod.write("two")
    newest = pod.backup()
    assert newest != older
    pod.kill()

    # Damage the newest stored object (its manifest still lists it) ...
    stored = next(p for p in pod.backups.iterdir() if p.name.startswith(newest) and not p.name.endswith(".json"))
    blob = bytearray(stored.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    stored.write_bytes(bytes(blob))
    # ... and the data directory (data.txt no longer matches its checksum).
    with open(pod.data / "data.txt", "a") as handle:
        handle.write("garbage\n")

    pod.start()
    start = pod.wait_started(2)
    assert start["lines"] == ["one"], pod.logs()
    pod.wait_ready()

    records = pod.log_records()
    damaged = [r for r in records if r.get("damaged") is True]
    assert damaged and damaged[0]["backup"] == newest, pod.logs()
    assert any("falling back" in str(r["msg"]) for r in damaged)
    assert any("restored the older backup" in str(r.get("msg")) for r in records)

    text = pod.metrics()
    assert metric_value(text, "brs_restore_fallbacks_total") == 1.0
    assert (metric_value(text, "brs_verifications_total", [("result", "damaged")]) or 0) >= 1.0
    assert (metric_value(text, "brs_backup_damaged_timestamp_seconds") or 0) > 0

    # The corrupt directory was moved aside, not deleted.
    aside = [p for p in pod.root.iterdir() if p.name.startswith(".data.brs-corrupt-")]
    assert len(aside) == 1 and "garbage" in (aside[0] / "data.txt").read_text()

    # The damaged backup is still listed and verification through the API names it.
    status, listing = pod.get("/v1/backups")
    assert status == 200 and [b["version"] for b in listing["backups"]] == [newest, older]
    status, answer = pod.post(f"/v1/backups/{newest}/verify")
    assert status == 422 and newest in answer["error"]


def test_manual_restore_stops_and_restarts_the_database(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("first")
    older = pod.backup()
    pod.write("second")
    pod.backup()
    waiter_pid = pod.waiter.pid if pod.waiter else 0

    status, answer = pod.post("/v1/restore", {"version": older})
    assert status == 200, (answer, pod.logs())
    assert answer["version"] == older

    start = pod.wait_started(2)
    assert start["lines"] == ["first"]
    events = pod.events()
    kinds = [e["event"] for e in events]
    # start (first run), stop (for the restore), start (restored data), in this order.
    assert kinds[:3] == ["start", "stop", "start"], events
    assert events[1]["signal"] == "SIGTERM"
    assert pod.waiter is not None and pod.waiter.poll() is None and pod.waiter.pid == waiter_pid
    pod.wait_ready()

    # The same through the CLI with --server: back to the newest backup.
    env = pod.env
    result = subprocess.run(
        [brs_executable(), "restore", "--server", pod.url, "latest"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    start = pod.wait_started(3)
    assert start["lines"] == ["first", "second"]
    pod.wait_ready()

    listing = subprocess.run(
        [brs_executable(), "backups", "list", "--server", pod.url, "--json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert listing.returncode == 0 and older in listing.stdout
    verify = subprocess.run(
        [brs_executable(), "verify", "--server", pod.url, older], capture_output=True, text=True, env=env, timeout=120
    )
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stderr
    status, state = pod.get("/v1/initializer")
    assert state["status"] == "done" and state["database"]["desired"] == "run"
    wait_for(lambda: pod.get("/v1/initializer")[1]["waiter"]["state"] == "running", 60, "waiter report")


def test_storage_outage_never_blocks_a_healthy_database_and_delays_a_needed_restore(pods: Callable[..., Pod]) -> None:
    pod = pods()
    store = pod.root / "store"
    pod.backups = store / "backup"
    marker = pod.root / "pre-exec-ran"
    pre_exec = ("--pre-exec-cmds", f"{sys.executable} -c 'import pathlib; pathlib.Path(\"{marker}\").touch()'")
    pod.start(*pre_exec)
    pod.wait_started(1)
    pod.wait_ready()
    assert marker.exists()
    pod.write("kept")
    pod.backup()
    pod.kill()

    # The storage becomes unusable: a plain file stands where its parent directory was.
    real = pod.root / "store.real"
    store.rename(real)
    store.write_text("not a directory")

    # A healthy data directory: the database starts anyway.
    pod.start()
    assert pod.wait_started(2)["lines"] == ["kept"]
    assert any("storage is not reachable" in m for m in _messages(pod)), pod.logs()
    pod.kill()

    # An empty one: the sidecar waits for the storage, saying why, and the database does not start.
    shutil.rmtree(pod.data)
    pod.start()
    wait_for(lambda: "storage is not reachable" in pod.get("/v1/initializer")[1].get("message", ""), 60, "the storage complaint")
    assert len(pod.starts()) == 2 and pod.get("/readyz")[0] == 503
    store.unlink()
    real.rename(store)
    assert pod.wait_started(3)["lines"] == ["kept"]


def test_restarted_sidecar_stops_a_running_database_before_restoring(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("good")
    pod.backup()

    # Only the sidecar container dies; meanwhile the data directory gets damaged.
    assert pod.sidecar is not None
    os.killpg(pod.sidecar.pid, signal.SIGKILL)
    pod.sidecar.wait(30)
    (pod.data / "data.txt").write_text("damaged\n")

    pod.start_sidecar()
    start = pod.wait_started(2)
    assert start["lines"] == ["good"], pod.logs()
    kinds = [e["event"] for e in pod.events()]
    assert kinds == ["start", "stop", "start"], kinds  # stopped gracefully before the restore
    assert pod.waiter is not None and pod.waiter.poll() is None
