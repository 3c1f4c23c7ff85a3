"""brs's storage contract against Azurite, plus Azure-specific behaviour."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from brs_storage_azure.testing import Azurite, unique_container
from brs.interfaces import Storage
from brs.testing import StorageContract
from brs.testing.storage import GreedyReader

from brs_storage_azure import AzureStorage

pytestmark = pytest.mark.server("azurite")

_MiB = 1 << 20


class TestAzureContract(StorageContract):
    @pytest.fixture
    def storage_factory(self, azurite: Azurite, azure_storage_on: Callable[..., AzureStorage]) -> Callable[[str], Storage[Any]]:
        container = unique_container()
        return lambda prefix: azure_storage_on(azurite, container, prefix)

    @pytest.fixture
    def unreachable_storage(self, azure_storage_on: Callable[..., AzureStorage]) -> Storage[Any]:
        # An Azurite that was never started: nothing listens on its port; no retries.
        return azure_storage_on(Azurite(), unique_container(), "contract", azure_max_retries=0)


def test_listing_ignores_deeper_folders(azurite: Azurite, azure_storage_on: Callable[..., AzureStorage]) -> None:
    container = unique_container()
    storage = azure_storage_on(azurite, container, "team/db")
    storage.ensure()
    for key in ("team/db/one", "team/db/nested/other", "team/db-2/other"):
        storage.container.upload_blob(key, b"x")
    assert [obj.name for obj in storage.list()] == ["one"]


def test_a_failed_upload_commits_nothing_but_blocks_stay_invisible(
    azurite: Azurite, azure_storage_on: Callable[..., AzureStorage]
) -> None:
    storage = azure_storage_on(azurite, unique_container(), "p", azure_block_size_mib=1)
    storage.ensure()

    class Broken(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            if self.sent >= 5 * _MiB:
                raise OSError("pipeline broke")
            self.sent += _MiB
            return os.urandom(_MiB)

    with pytest.raises(OSError):
        storage.upload("broken", Broken())
    assert storage.list() == []
    uncommitted = list(storage.container.list_blobs(name_starts_with="p/", include=["uncommittedblobs"]))
    assert [blob.name for blob in uncommitted] in ([], ["p/broken"])  # staged blocks are never a listed blob
    data = os.urandom(3 * _MiB + 1)
    assert storage.upload("whole", io.BytesIO(data)) == len(data)
    with storage.download("whole") as handle:
        assert handle.read() == data


def test_pieces_larger_than_asked_for_are_split_not_lost(azurite: Azurite, azure_storage_on: Callable[..., AzureStorage]) -> None:
    storage = azure_storage_on(azurite, unique_container(), "greedy", azure_block_size_mib=1)
    storage.ensure()
    data = os.urandom(5 * _MiB + 7)
    assert storage.upload("greedy", GreedyReader(data, 3 * _MiB // 2)) == len(data)
    with storage.download("greedy") as handle:
        assert handle.read() == data
