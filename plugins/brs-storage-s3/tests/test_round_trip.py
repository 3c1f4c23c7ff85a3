"""Acceptance through the real CLI: backup, wipe, restore, compare; against moto and Ceph RGW."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing.storage import COMPRESSION_SUFFIXES, encrypted_round_trip
from brs_storage_s3.testing import Moto, S3Target, moto_target, unique_bucket

pytestmark = pytest.mark.server("s3")


@pytest.fixture(params=["moto", "ceph"])
def target(request: pytest.FixtureRequest) -> S3Target:
    if request.param == "ceph":
        return request.getfixturevalue("ceph_rgw")  # type: ignore[no-any-return]
    server: Moto = request.getfixturevalue("moto")
    return moto_target(server)


@pytest.mark.parametrize("method", list(COMPRESSION_SUFFIXES))
def test_encrypted_round_trip(tmp_path: Path, target: S3Target, method: str) -> None:
    encrypted_round_trip(target.env(tmp_path, unique_bucket(), prefix="cluster/pg-0"), method, tmp_path / "key")
