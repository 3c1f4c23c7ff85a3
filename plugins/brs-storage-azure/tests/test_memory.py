"""A 300 MiB backup streams through Azure Blob storage with bounded memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from brs_storage_azure.testing import Azurite, unique_container
from brs.testing.storage import memory_bounded_round_trip

pytestmark = pytest.mark.server("azurite")

LIMIT_KIB = 150 * 1024


@pytest.mark.slow
def test_300_mib_up_and_down_under_150_mib_rss(tmp_path: Path, azurite_factory: Callable[..., Any]) -> None:
    server: Azurite = azurite_factory(directory=tmp_path / "azurite")  # on disk: Azurite's memory is not ours to spend
    memory_bounded_round_trip(server.env(tmp_path, unique_container(), prefix="big"), LIMIT_KIB)
