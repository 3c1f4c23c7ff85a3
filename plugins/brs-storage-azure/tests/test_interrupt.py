"""Interrupted uploads: nothing is listed, and the next backup succeeds once the server is back."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from brs_storage_azure.testing import Azurite, unique_container
from brs.testing import assert_one_line_error, listed_backups, run_brs
from brs.testing.helpers import brs_executable
import pytest

pytestmark = pytest.mark.server("azurite")

_MiB = 1 << 20


def test_server_killed_mid_upload(tmp_path: Path, azurite_factory: Callable[..., Azurite]) -> None:
    # On disk, so that the blocks the killed server had received are still there after the restart.
    server = azurite_factory(directory=tmp_path / "azurite")
    container = unique_container()
    env = {
        **server.env(tmp_path, container, prefix="db"),
        "BRS_COMPRESSION_METHOD": "tar",
        "BRS_LOG_LEVEL": "warning",
        "BRS_AZURE_BLOCK_SIZE_MIB": "1",
        "BRS_AZURE_MAX_RETRIES": "1",
    }
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "big.bin").write_bytes(os.urandom(48 * _MiB))
    server_blocks = tmp_path / "azurite"
    # Azurite saves its metadata every few seconds and on a clean stop: create the container and
    # restart once, so that the SIGKILL below loses nothing that existed before the backup.
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(server.connection_string()).create_container(container)
    server.stop()
    server.start()
    before = _stored(server_blocks)
    process = subprocess.Popen(
        [brs_executable(), "backup"], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while _stored(server_blocks) < before + 4 * _MiB:  # several blocks staged: mid-upload
            assert process.poll() is None and time.monotonic() < deadline, (
                f"the backup never got under way: {process.communicate()}"
            )
            time.sleep(0.02)
        server.kill()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.communicate()
    assert_one_line_error(subprocess.CompletedProcess([], process.returncode, stdout, stderr), f"/{container}/db/")

    server.start()  # same port, same data directory: the staged blocks are still there
    assert listed_backups(env) == []
    version = run_brs("backup", env=env, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(env)] == [version]


def _stored(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
