"""Transient failures (HTTP 503 on every third request) are retried: the round trip succeeds."""

from __future__ import annotations

import shutil
from pathlib import Path

from brs.testing import make_tree, run_brs, tree_snapshot
from s3_flaky import FlakyProxy
from s3_servers import Moto, S3Target, listed, moto_target, unique_bucket


def test_backup_and_restore_ride_out_503s(tmp_path: Path, moto: Moto) -> None:
    with FlakyProxy(moto.endpoint, every=3).running() as proxy:
        target = S3Target(proxy.endpoint, *(moto_target(moto).access_key, moto_target(moto).secret_key))
        env = {**target.env(tmp_path, unique_bucket(), prefix="db"), "BRS_S3_MAX_ATTEMPTS": "4", "BRS_S3_PART_SIZE_MIB": "5"}
        data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=12 << 20)  # several parts
        expected = tree_snapshot(data)
        version = run_brs("backup", env=env, check=True).stdout.strip()
        assert [b["version"] for b in listed(env)] == [version]
        shutil.rmtree(data)
        run_brs("restore", "latest", env=env, check=True)
        assert tree_snapshot(data) == expected
        assert proxy.injected >= 5, proxy.requests
