"""Acceptance: --disk-rate-limit and --upload-rate-limit pace a backup through the real CLI and the
sidecar, the backup stays whole, and a value that is no rate is refused before anything is stored.

Only lower bounds of time are asserted (a paced backup cannot be faster than its limit allows); how
fast an unpaced one runs is for bench/, not for tests."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from podsim import Pod

from brs.testing import run_brs, tree_snapshot

MiB = 1 << 20


def _records(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _timed_backup(env: dict[str, str], *args: str) -> tuple[float, str, str]:
    started = time.monotonic()
    result = run_brs("backup", *args, env=env, check=True)
    return time.monotonic() - started, result.stdout.strip(), result.stderr


def _restores_whole(env: dict[str, str], version: str) -> None:
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    expected = tree_snapshot(data)
    shutil.rmtree(data)
    run_brs("restore", version, env=env, check=True)
    assert tree_snapshot(data) == expected


def test_uploads_go_no_faster_than_the_limit_and_the_backup_is_whole(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "table").write_bytes(os.urandom(4 * MiB))  # incompressible: about 4 MiB to upload
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key"), "BRS_COMPRESSION_METHOD": "tarlz4"}
    seconds, version, stderr = _timed_backup(env, "--upload-rate-limit", "1MiB")
    # One second's worth goes at once, the other three at 1 MiB/s.
    assert seconds >= 2.9, seconds
    paced = [r for r in _records(stderr) if "backup paced" in str(r.get("msg"))]
    assert paced and "uploads at most 1.0 MiB/s" in str(paced[0]["msg"]) and "reads at most no limit" in str(paced[0]["msg"])
    _restores_whole(env, version)


def test_the_disk_limit_paces_the_data_read_not_the_smaller_object_stored(brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "zeros").write_bytes(bytes(4 * MiB))  # compresses to almost nothing
    env = {**brs_env, "BRS_COMPRESSION_METHOD": "tarzst", "BRS_DISK_RATE_LIMIT": "1MiB"}  # from the environment
    seconds, version, _ = _timed_backup(env)
    assert seconds >= 2.9, seconds
    listed = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert listed[0]["version"] == version and listed[0]["size"] < MiB  # the stored object is small
    _restores_whole(env, version)


def test_a_value_that_is_no_rate_is_refused_and_nothing_is_stored(brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "table").write_bytes(b"x" * 1000)
    for flag, value, reason in (
        ("--upload-rate-limit", "fast", "is not a rate"),
        ("--disk-rate-limit", "50", "below the smallest rate limit, 64KiB/s"),
    ):
        result = run_brs("backup", flag, value, env=brs_env)
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and flag in errors[0] and reason in errors[0], result.stderr
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    assert not store.exists() or not any(store.iterdir())


def test_the_sidecar_paces_its_backups(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--upload-rate-limit", "1MiB", "--compression-method", "tar")
    pod.wait_started(1)
    pod.wait_ready()
    (pod.data / "table").write_bytes(os.urandom(4 * MiB))
    started = time.monotonic()
    version = pod.backup()
    assert time.monotonic() - started >= 2.9
    stored = next(p for p in pod.backups.iterdir() if p.name.startswith(version) and not p.name.endswith(".json"))
    assert stored.stat().st_size > 4 * MiB  # the whole table went through the paced upload
    assert any("backup paced" in str(r.get("msg")) for r in pod.log_records())
