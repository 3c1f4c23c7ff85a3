"""--s3-upload-concurrency: how many parts a backup really has in flight at once (counted at a
relay in front of moto that holds each part a moment), and the backup stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing import InFlightProxy
from brs.testing.storage import backup_wipe_restore
from brs_storage_s3.testing import Moto, S3Target, moto_target, unique_bucket

pytestmark = pytest.mark.server("s3")


@pytest.mark.parametrize("concurrency", [None, 4])
def test_parts_in_flight_follow_the_option(tmp_path: Path, moto: Moto, concurrency: int | None) -> None:
    keys = moto_target(moto)
    with InFlightProxy(moto.endpoint).running() as proxy:
        env = {
            **S3Target(proxy.endpoint, keys.access_key, keys.secret_key).env(tmp_path, unique_bucket(), prefix="db"),
            "BRS_S3_PART_SIZE_MIB": "5",
        }
        if concurrency is not None:
            env["BRS_S3_UPLOAD_CONCURRENCY"] = str(concurrency)
        backup_wipe_restore(env, big_file_size=40 << 20)  # about 8 parts of 5 MiB
    assert proxy.held >= 8
    assert proxy.peak == (concurrency or 2)
