"""Interrupted uploads: nothing is listed, and the next backup succeeds once the server is back."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from brs.testing import assert_one_line_error, listed_backups, run_brs
from brs.testing.helpers import brs_executable
from brs_storage_gcs.testing import Emulator, unique_bucket
import pytest

pytestmark = pytest.mark.server("gcs")

_MiB = 1 << 20


def test_server_killed_mid_upload(tmp_path: Path, emulator_factory: Callable[..., Emulator]) -> None:
    # On disk, so that whatever the killed server had received is still there after the restart.
    server = emulator_factory(directory=tmp_path / "emulator")
    bucket = unique_bucket()
    env = {
        **server.env(tmp_path, bucket, prefix="db"),
        "BRS_COMPRESSION_METHOD": "tar",
        "BRS_LOG_LEVEL": "warning",
        "BRS_GCP_CHUNK_SIZE_MIB": "1",
        "BRS_GCP_RETRY_TIMEOUT": "3",
    }
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "big.bin").write_bytes(os.urandom(64 * _MiB))
    run_brs("backup", env={**env, "BRS_DB_DATA_DIRECTORY": str(tmp_path / "empty")}, check=False)  # creates the bucket
    process = subprocess.Popen(
        [brs_executable(), "backup"], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_upload_session(server, process)
        server.kill()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.communicate()
    assert_one_line_error(subprocess.CompletedProcess([], process.returncode, stdout, stderr), "gs://", "/db/")

    server.start()  # same port, same data directory
    assert listed_backups(env) == []
    version = run_brs("backup", env=env, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(env)] == [version]


def _wait_for_upload_session(server: Emulator, process: subprocess.Popen[str]) -> None:
    """Return once the backup has sent a few chunks of its resumable upload."""
    assert server.directory is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        stored = sum(f.stat().st_size for f in server.directory.rglob("*") if f.is_file())
        if stored > 8 * _MiB:
            return
        time.sleep(0.02)
    raise AssertionError(f"the backup never got under way (exit {process.poll()})")
