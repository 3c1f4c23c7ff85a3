"""brs's storage contract against the GCS emulator, plus GCS-specific behaviour."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from brs.interfaces import Storage
from brs.testing import StorageContract
from gcs_servers import Emulator, unique_bucket

from brs_storage_gcs import GcsStorage


class TestGcsContract(StorageContract):
    @pytest.fixture
    def storage_factory(self, gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]) -> Callable[[str], Storage]:
        bucket = unique_bucket()
        return lambda prefix: gcs_storage_on(gcs_emulator, bucket, prefix)


def test_listing_ignores_deeper_folders(gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]) -> None:
    bucket = unique_bucket()
    storage = gcs_storage_on(gcs_emulator, bucket, "team/db")
    storage.brs_storage_ensure()
    gcs_bucket = storage.client.bucket(bucket)
    for key in ("team/db/one", "team/db/nested/other", "team/db-2/other", "team/db/"):
        gcs_bucket.blob(key).upload_from_string(b"x")
    assert [obj.name for obj in storage.brs_storage_list()] == ["one"]
