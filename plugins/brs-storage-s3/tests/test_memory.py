"""A 300 MiB backup streams through S3 with bounded memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing.storage import memory_bounded_round_trip
from brs_storage_s3.testing import Moto, moto_target, unique_bucket

pytestmark = pytest.mark.server("s3")

LIMIT_KIB = 150 * 1024


@pytest.mark.slow
def test_300_mib_up_and_down_under_150_mib_rss(tmp_path: Path, moto: Moto) -> None:
    memory_bounded_round_trip(moto_target(moto).env(tmp_path, unique_bucket(), prefix="big"), LIMIT_KIB)
