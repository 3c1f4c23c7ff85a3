"""Transient failures (HTTP 503 on every third request) are retried: the round trip succeeds."""

from __future__ import annotations

from pathlib import Path

from brs.testing import FlakyProxy
from brs.testing.storage import backup_wipe_restore
from brs_storage_gcs.testing import Emulator, unique_bucket
import pytest

pytestmark = pytest.mark.server("gcs")


def test_backup_and_restore_ride_out_503s(tmp_path: Path, gcs_emulator: Emulator) -> None:
    with FlakyProxy(gcs_emulator.endpoint, every=3).running() as proxy:
        env = {
            **gcs_emulator.env(tmp_path, unique_bucket(), prefix="db"),
            "STORAGE_EMULATOR_HOST": proxy.endpoint,
            "BRS_GCP_RETRY_TIMEOUT": "60",
            "BRS_GCP_CHUNK_SIZE_MIB": "2",
        }
        backup_wipe_restore(env, big_file_size=6 << 20)  # several chunks
        assert proxy.injected >= 5, proxy.requests
