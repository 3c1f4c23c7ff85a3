"""Acceptance through the real CLI: backup, wipe, restore, compare; against the GCS emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing.storage import COMPRESSION_SUFFIXES, encrypted_round_trip
from brs_storage_gcs.testing import Emulator, unique_bucket

pytestmark = pytest.mark.server("gcs")


@pytest.mark.parametrize("method", list(COMPRESSION_SUFFIXES))
def test_encrypted_round_trip(tmp_path: Path, gcs_emulator: Emulator, method: str) -> None:
    encrypted_round_trip(gcs_emulator.env(tmp_path, unique_bucket(), prefix="cluster/pg-0"), method, tmp_path / "key")
