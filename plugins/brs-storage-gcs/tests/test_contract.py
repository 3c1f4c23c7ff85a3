"""brs's storage contract against the GCS emulator, plus GCS-specific behaviour."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from brs.interfaces import Storage
from brs.testing import StorageContract
from brs.testing.storage import GreedyReader
from brs_storage_gcs.testing import Emulator, unique_bucket

from brs_storage_gcs import GcsStorage

pytestmark = pytest.mark.server("gcs")

_MiB = 1 << 20


class TestGcsContract(StorageContract):
    @pytest.fixture
    def storage_factory(self, gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]) -> Callable[[str], Storage[Any]]:
        bucket = unique_bucket()
        return lambda prefix: gcs_storage_on(gcs_emulator, bucket, prefix)

    @pytest.fixture
    def unreachable_storage(self, gcs_storage_on: Callable[..., GcsStorage]) -> Storage[Any]:
        # An emulator that was never started: nothing listens on its port. Retries stop after a second.
        return gcs_storage_on(Emulator(), unique_bucket(), "contract", gcp_retry_timeout=1)


def test_listing_ignores_deeper_folders(gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]) -> None:
    bucket = unique_bucket()
    storage = gcs_storage_on(gcs_emulator, bucket, "team/db")
    storage.ensure()
    gcs_bucket = storage.client.bucket(bucket)
    for key in ("team/db/one", "team/db/nested/other", "team/db-2/other", "team/db/"):
        gcs_bucket.blob(key).upload_from_string(b"x")
    assert [obj.name for obj in storage.list()] == ["one"]


def test_pieces_larger_than_asked_for_are_split_not_lost(
    gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]
) -> None:
    storage = gcs_storage_on(gcs_emulator, unique_bucket(), "greedy", gcp_chunk_size_mib=1)
    storage.ensure()
    data = os.urandom(5 * _MiB + 7)
    assert storage.upload("greedy", GreedyReader(data, 3 * _MiB // 2)) == len(data)
    with storage.download("greedy") as handle:
        assert handle.read() == data


def test_an_old_backup_reads_from_an_offset_across_chunks(
    gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]
) -> None:
    storage = gcs_storage_on(gcs_emulator, unique_bucket(), "pg", gcp_chunk_size_mib=1)
    storage.ensure()
    data = os.urandom(3 * _MiB + 11)
    storage.client.bucket(storage.settings.bucket).blob("pg/db.tar.gz.aes").upload_from_string(data)
    [version] = storage.legacy_list()
    offset = _MiB + 5  # within the second chunk: the reads cross two chunk boundaries and end on a short one
    with storage.legacy_open(version, offset) as handle:
        assert handle.read(10) == data[offset : offset + 10]
        assert handle.read(_MiB) == data[offset + 10 : offset + 10 + _MiB]
        assert handle.read() == data[offset + 10 + _MiB :]
        assert handle.read(1) == b""
