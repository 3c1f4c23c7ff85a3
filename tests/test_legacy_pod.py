"""Acceptance: a sidecar that finds only backups of backup-restore-sidecar restores the newest
before the database starts, backs up at once in brs's format, and refuses to start the database
when none of the old backups can be read."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from podsim import Pod, metric_value, wait_for

from brs.testing.helpers import brs_executable
from brs.testing.legacy import make_old_backup, set_mtime

KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "abcdefghijklmnopqrstuvwxyz012345"


def _old_journal(pod: Pod, name: str, lines: list[str], key: str, age: float) -> Path:
    """An old localfs dump of the pod's database (data.txt and its checksum) in the store."""
    upload = pod.root / f"upload-{name}"
    files = upload / "files"
    files.mkdir(parents=True)
    content = "".join(line + "\n" for line in lines).encode()
    (files / "data.txt").write_bytes(content)
    (files / "data.txt.sha256").write_text(hashlib.sha256(content).hexdigest() + "\n")
    backup = make_old_backup(upload, pod.backups / name, "targz", key)
    set_mtime(backup, time.time() - age)
    return backup


def _key_file(pod: Pod) -> str:
    path = pod.root / "key"
    path.write_text(KEY + "\n")
    return str(path)


def test_the_newest_old_backup_is_restored_before_the_database_starts(pods: Callable[..., Pod]) -> None:
    pod = pods()
    _old_journal(pod, "0.tar.gz.aes", ["old-1", "old-2"], KEY, age=600)
    _old_journal(pod, "1.tar.gz.aes", ["old-1"], KEY, age=1200)
    key = _key_file(pod)
    pod.start("--encryption-key-file", key)
    assert pod.wait_started(1)["lines"] == ["old-1", "old-2"], pod.logs()
    pod.wait_ready()
    # The storage held no brs backup: one is taken right away, not at the first cron tick.
    own = wait_for(
        lambda: [b for b in pod.get("/v1/backups")[1]["backups"] if b.get("format") is None], 120, "the first brs backup"
    )
    assert len(own) == 1
    # Verifying an old backup through the sidecar says what it can and cannot prove.
    old = [b["version"] for b in pod.get("/v1/backups")[1]["backups"] if b.get("format")]
    assert len(old) == 2
    verified = subprocess.run(
        [brs_executable(), "verify", old[-1], "--server", pod.url], capture_output=True, text=True, env=pod.env, timeout=120
    )
    assert verified.returncode == 0 and "no integrity proof" in verified.stdout, verified.stderr
    # Losing the volume now loses nothing: the new backup (newest of either format) comes back.
    pod.kill()
    for path in sorted(pod.data.rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() else path.rmdir()
    pod.start("--encryption-key-file", key)
    assert pod.wait_started(2)["lines"] == ["old-1", "old-2"], pod.logs()
    restored = [r for r in pod.log_records() if str(r.get("msg", "")).startswith("restored backup")]
    assert restored and own[0]["version"] in str(restored[0]["msg"]), pod.logs()


def test_the_database_does_not_start_when_no_old_backup_can_be_decrypted(pods: Callable[..., Pod]) -> None:
    pod = pods()
    _old_journal(pod, "0.tar.gz.aes", ["secret"], OTHER_KEY, age=60)
    pod.start("--encryption-key-file", _key_file(pod))
    assert pod.sidecar is not None
    assert pod.sidecar.wait(180) == 5, pod.logs()  # no usable backup: the start fails
    assert pod.starts() == []
    failure = [r for r in pod.log_records() if "initializer failed" in str(r.get("msg", ""))]
    assert failure, pod.logs()
    assert "wrong key" in failure[0]["msg"] and "does not start" in failure[0]["msg"]
    assert not any(pod.data.iterdir()) if pod.data.exists() else True


def test_the_database_does_not_start_next_to_backups_that_cannot_be_read(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.backups.mkdir(parents=True)
    (pod.backups / "20261101T000000Z-abcdef.tar.gz.manifest.json").write_text("{ not a manifest")
    (pod.backups / "20261101T000000Z-abcdef.tar.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 64)
    pod.start()
    assert pod.sidecar is not None
    assert pod.sidecar.wait(180) == 5, pod.logs()  # no usable backup: the start fails
    assert pod.starts() == []
    failure = [r for r in pod.log_records() if "initializer failed" in str(r.get("msg", ""))]
    assert failure and "none can be read" in failure[0]["msg"] and "EMPTY" in failure[0]["msg"], pod.logs()


def test_the_old_metric_names_on_request(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--legacy-metrics")
    pod.wait_started(1)
    pod.wait_ready()
    pod.write("x")
    version = pod.backup()
    text = pod.metrics()
    assert metric_value(text, "backup_success") == 1.0
    assert metric_value(text, "backup_total_backups") == 1.0
    assert metric_value(text, "backup_errors", [("operation", "upload")]) == 0.0
    stored = next(p for p in pod.backups.iterdir() if p.name.startswith(version) and not p.name.endswith(".json"))
    assert metric_value(text, "backup_size") == float(stored.stat().st_size)
    assert metric_value(text, "brs_backups_total", [("result", "success")]) == 1.0
