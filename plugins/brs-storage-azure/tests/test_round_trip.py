"""Acceptance through the real CLI: backup, wipe, restore, compare; against Azurite."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing.storage import COMPRESSION_SUFFIXES, encrypted_round_trip
from brs_storage_azure.testing import Azurite, unique_container

pytestmark = pytest.mark.server("azurite")


@pytest.mark.parametrize("method", list(COMPRESSION_SUFFIXES))
def test_encrypted_round_trip(tmp_path: Path, azurite: Azurite, method: str) -> None:
    encrypted_round_trip(azurite.env(tmp_path, unique_container(), prefix="cluster/pg-0"), method, tmp_path / "key")
