"""Sidecars sharing a bucket under different prefixes never see or prune each other's backups."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing.storage import sidecars_keep_to_their_prefixes
from brs_storage_s3.testing import Moto, S3Target, engine_for, moto_target, unique_bucket

pytestmark = pytest.mark.server("s3")


@pytest.fixture(params=["moto", "ceph"])
def target(request: pytest.FixtureRequest) -> tuple[S3Target, int, int]:
    """The server, how many backups to take and how many to keep (fewer on slower Ceph)."""
    if request.param == "ceph":
        return request.getfixturevalue("ceph_rgw"), 7, 4
    server: Moto = request.getfixturevalue("moto")
    return moto_target(server), 25, 20


def test_two_sidecars_in_one_bucket_keep_to_themselves(tmp_path: Path, target: tuple[S3Target, int, int]) -> None:
    server, count, keep = target
    bucket = unique_bucket()
    sidecars_keep_to_their_prefixes(
        lambda directory, prefix: server.env(directory, bucket, prefix=prefix),
        lambda prefix, data_dir, keep: engine_for(server, bucket, prefix, data_dir, max_keep=keep),
        tmp_path,
        count=count,
        keep=keep,
    )
