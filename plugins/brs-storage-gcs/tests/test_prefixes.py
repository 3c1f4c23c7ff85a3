"""Sidecars sharing a bucket under different prefixes never see or prune each other's backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from brs.testing.storage import sidecars_keep_to_their_prefixes, storage_engine
from brs_storage_gcs.testing import Emulator, unique_bucket

from brs_storage_gcs import GcsStorage
import pytest

pytestmark = pytest.mark.server("gcs")


def test_two_sidecars_in_one_bucket_keep_to_themselves(
    tmp_path: Path, gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]
) -> None:
    bucket = unique_bucket()
    sidecars_keep_to_their_prefixes(
        lambda directory, prefix: gcs_emulator.env(directory, bucket, prefix=prefix),
        lambda prefix, data_dir, keep: storage_engine(gcs_storage_on(gcs_emulator, bucket, prefix), data_dir, max_keep=keep),
        tmp_path,
    )
