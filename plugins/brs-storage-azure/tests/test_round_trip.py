"""Acceptance through the real CLI: backup, wipe, restore, compare; against Azurite."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing.storage import COMPRESSION_SUFFIXES, encrypted_round_trip
from azure_servers import Azurite, unique_container


@pytest.mark.parametrize("method", list(COMPRESSION_SUFFIXES))
def test_encrypted_round_trip(tmp_path: Path, azurite: Azurite, method: str) -> None:
    encrypted_round_trip(azurite.env(tmp_path, unique_container(), prefix="cluster/pg-0"), method, tmp_path / "key")
