"""Interrupted uploads: nothing is listed, and the next backup succeeds."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from brs.testing import assert_one_line_error, listed_backups, run_brs
from brs.testing.helpers import brs_executable
from brs_storage_s3.testing import Moto, S3Target, moto_target, unique_bucket
import pytest

pytestmark = pytest.mark.server("s3")

_MiB = 1 << 20


def _start_big_backup(tmp_path: Path, target: S3Target, bucket: str) -> tuple[dict[str, str], subprocess.Popen[str]]:
    env = {
        **target.env(tmp_path, bucket, prefix="db"),
        "BRS_COMPRESSION_METHOD": "tar",
        "BRS_LOG_LEVEL": "warning",
        "BRS_S3_PART_SIZE_MIB": "5",
    }
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    with open(data / "big.bin", "wb") as out:
        for _ in range(96):
            out.write(os.urandom(_MiB))
    process = subprocess.Popen(
        [brs_executable(), "backup"], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return env, process


def _wait_for_multipart(target: S3Target, bucket: str, process: subprocess.Popen[str]) -> None:
    """Return once a multipart upload is under way: the backup is mid-upload."""
    client = target.client(attempts=1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
                return
        except Exception:  # noqa: BLE001 - the bucket may not exist yet
            pass
        time.sleep(0.02)
    raise AssertionError(f"the backup never started a multipart upload (exit {process.poll()})")


def test_server_killed_mid_upload(tmp_path: Path, moto_factory: Callable[..., Moto]) -> None:
    server = moto_factory()
    target, bucket = moto_target(server), unique_bucket()
    env, process = _start_big_backup(tmp_path, target, bucket)
    try:
        _wait_for_multipart(target, bucket, process)
        server.kill()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    assert_one_line_error(subprocess.CompletedProcess([], process.returncode, stdout, stderr), "db/")

    server.start()  # same port; moto keeps nothing in memory, so brs recreates the bucket
    version = run_brs("backup", env=env, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(env)] == [version]


def test_backup_killed_mid_upload(tmp_path: Path, moto: Moto) -> None:
    target, bucket = moto_target(moto), unique_bucket()
    env, process = _start_big_backup(tmp_path, target, bucket)
    try:
        _wait_for_multipart(target, bucket, process)
        process.kill()  # SIGKILL: no cleanup runs, the multipart upload stays open
    finally:
        process.kill()
        process.communicate()
    assert listed_backups(env) == []
    assert target.client(attempts=1).list_multipart_uploads(Bucket=bucket).get("Uploads")  # unfinished, unlisted
    version = run_brs("backup", env=env, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(env)] == [version]
