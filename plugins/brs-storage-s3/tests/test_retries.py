"""Transient failures are retried: 503 answers, and a download whose connection breaks mid-body."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

from brs.testing import FlakyProxy
from brs.testing.storage import backup_wipe_restore
from brs_storage_s3.testing import Moto, S3Target, moto_target, unique_bucket

from brs_storage_s3 import S3Storage
import pytest

pytestmark = pytest.mark.server("s3")


def test_backup_and_restore_ride_out_503s(tmp_path: Path, moto: Moto) -> None:
    with FlakyProxy(moto.endpoint, every=3).running() as proxy:
        target = S3Target(proxy.endpoint, *(moto_target(moto).access_key, moto_target(moto).secret_key))
        env = {**target.env(tmp_path, unique_bucket(), prefix="db"), "BRS_S3_MAX_ATTEMPTS": "4", "BRS_S3_PART_SIZE_MIB": "5"}
        backup_wipe_restore(env, big_file_size=12 << 20)  # several parts
        assert proxy.injected >= 5, proxy.requests


def test_a_download_broken_mid_body_resumes_where_it_stopped(moto: Moto, storage_on: Callable[..., S3Storage]) -> None:
    data = os.urandom(6 << 20)
    with FlakyProxy(moto.endpoint, every=1_000_000, cut_get_after=2 << 20).running() as proxy:
        target = S3Target(proxy.endpoint, moto_target(moto).access_key, moto_target(moto).secret_key)
        storage = storage_on(target, unique_bucket(), "db")
        storage.ensure()
        storage.upload("obj", io.BytesIO(data))
        with storage.download("obj") as handle:
            pieces = []
            while piece := handle.read(1 << 20):
                pieces.append(piece)
        assert proxy.cut == 1
        assert b"".join(pieces) == data
