"""Transient failures (HTTP 503 on every third request) are retried: the round trip succeeds."""

from __future__ import annotations

import shutil
from pathlib import Path

from brs.testing import FlakyProxy, listed_backups, make_tree, run_brs, tree_snapshot
from gcs_servers import Emulator, unique_bucket


def test_backup_and_restore_ride_out_503s(tmp_path: Path, gcs_emulator: Emulator) -> None:
    with FlakyProxy(gcs_emulator.endpoint, every=3).running() as proxy:
        env = {
            **gcs_emulator.env(tmp_path, unique_bucket(), prefix="db"),
            "STORAGE_EMULATOR_HOST": proxy.endpoint,
            "BRS_GCP_RETRY_TIMEOUT": "60",
            "BRS_GCP_CHUNK_SIZE_MIB": "2",
        }
        data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=6 << 20)  # several chunks
        expected = tree_snapshot(data)
        version = run_brs("backup", env=env, check=True).stdout.strip()
        assert [b["version"] for b in listed_backups(env)] == [version]
        shutil.rmtree(data)
        run_brs("restore", "latest", env=env, check=True)
        assert tree_snapshot(data) == expected
        assert proxy.injected >= 5, proxy.requests
