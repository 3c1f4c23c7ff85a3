"""Sidecars sharing a container under different prefixes never see or prune each other's backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from brs.testing.storage import sidecars_keep_to_their_prefixes, storage_engine
from brs_storage_azure.testing import Azurite, unique_container

from brs_storage_azure import AzureStorage
import pytest

pytestmark = pytest.mark.server("azurite")


def test_two_sidecars_in_one_container_keep_to_themselves(
    tmp_path: Path, azurite: Azurite, azure_storage_on: Callable[..., AzureStorage]
) -> None:
    container = unique_container()
    sidecars_keep_to_their_prefixes(
        lambda directory, prefix: azurite.env(directory, container, prefix=prefix),
        lambda prefix, data_dir, keep: storage_engine(azure_storage_on(azurite, container, prefix), data_dir, max_keep=keep),
        tmp_path,
    )
