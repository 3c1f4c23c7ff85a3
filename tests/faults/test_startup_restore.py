"""Start-up restore decides by the kind of failure: a local file-system failure stops the start
(no silent rollback to an older backup); a backup missing or damaged in the storage falls back."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from faultkit import backup_of, cli_env, listed, remount_read_only, visible, write_journal_data
from podsim import Pod, metric_value, wait_for

from brs.testing.helpers import assert_one_line_error, run_brs


def _two_backups(pod: Pod, tmp_path: Path, newest_extra: dict[str, bytes] | None = None) -> tuple[str, str]:
    """An older backup ("old") and a newer one ("new", plus ``newest_extra``) in the pod's storage."""
    source = tmp_path / "source"
    env = cli_env(source, pod.backups)
    write_journal_data(source, ["old"])
    older = backup_of(env)
    time.sleep(1.1)  # backup ids have one-second resolution
    write_journal_data(source, ["new"], newest_extra)
    newer = backup_of(env)
    assert listed(env) == [newer, older]
    return older, newer


def _messages(pod: Pod) -> str:
    return "\n".join(str(r.get("msg", "")) for r in pod.log_records())


def test_full_disk_stops_the_start_instead_of_rolling_back(
    pods: Callable[..., Pod], tmpfs: Callable[..., Path], tmp_path: Path
) -> None:
    pod = pods()
    older, newer = _two_backups(pod, tmp_path, {"big.bin": os.urandom(3 << 20)})
    tmpfs(pod.data, "1m")  # the volume is too small for the newest backup, not for the older one
    pod.start()
    assert pod.sidecar is not None
    code = pod.sidecar.wait(120)
    messages = _messages(pod)
    assert code == 1, pod.logs()
    assert "Traceback" not in pod.logs()  # an expected failure, reported as one line
    assert "No space left on device" in messages and "not of the backup" in messages, messages
    assert "damaged" not in messages and older not in messages, messages  # no fallback to the older backup
    assert pod.starts() == [], "the database must not start after a failed start-up restore"
    assert visible(pod.data) == {}, "nothing of a partial restore stays in the data directory"
    assert not [p for p in pod.data.iterdir() if "staging" in p.name]
    assert listed(cli_env(pod.data, pod.backups)) == [newer, older]  # both backups kept


def test_missing_newest_object_falls_back_to_the_older_backup(pods: Callable[..., Pod], tmp_path: Path) -> None:
    pod = pods()
    older, newer = _two_backups(pod, tmp_path)
    (data_object,) = [p for p in pod.backups.iterdir() if p.name.startswith(newer) and not p.name.endswith(".json")]
    data_object.unlink()
    pod.start()
    started = pod.wait_started(1)
    assert started["lines"] == ["old"]
    pod.wait_ready()
    messages = _messages(pod)
    assert f"backup {newer} is missing in the storage" in messages, messages
    assert "Traceback" not in pod.logs()
    assert metric_value(pod.metrics(), "brs_restore_fallbacks_total") == 1.0
    # The start did not delete anything: the manifest of the missing backup is still listed.
    assert listed(cli_env(pod.data, pod.backups)) == [newer, older]


def test_a_cli_restore_onto_a_full_volume_keeps_the_old_data(tmpfs: Callable[..., Path], tmp_path: Path) -> None:
    data = tmpfs(tmp_path / "data", "1m")
    store = tmp_path / "store"
    env = cli_env(data, store, db="localfs")
    (data / "big.bin").write_bytes(os.urandom(600 << 10))
    before = visible(data)
    source = tmp_path / "source"
    write_journal_data(source, ["bigger"], {"big.bin": os.urandom(700 << 10)})
    version = backup_of(cli_env(source, store, db="localfs"))
    line = assert_one_line_error(run_brs("restore", version, env=env), "No space left on device", "left as it was")
    assert "damaged" not in line
    assert visible(data) == before
    assert sorted(p.name for p in data.iterdir()) == ["big.bin"]  # no staging copy, no lock note left behind
    assert listed(env) == [version]


def test_a_read_only_data_directory_is_refused_with_one_line(tmpfs: Callable[..., Path], tmp_path: Path) -> None:
    data = tmpfs(tmp_path / "data", "4m")
    store = tmp_path / "store"
    source = tmp_path / "source"
    write_journal_data(source, ["from the backup"])
    version = backup_of(cli_env(source, store, db="localfs"))
    (data / "kept.txt").write_text("still here")
    remount_read_only(data)
    assert_one_line_error(run_brs("restore", version, env=cli_env(data, store, db="localfs")), "Read-only file system")
    assert visible(data) == {"kept.txt": b"still here"}
    # A backup only reads the data directory: it works on the read-only volume.
    backup_of(cli_env(data, store, db="localfs"))
    wait_for(lambda: len(listed(cli_env(data, store, db="localfs"))) == 2, 5, "two backups")
