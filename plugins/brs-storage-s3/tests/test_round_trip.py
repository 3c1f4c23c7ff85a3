"""Acceptance through the real CLI: backup, wipe, restore, compare; against moto and Ceph RGW."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from brs.testing import listed_backups, make_tree, run_brs, tree_snapshot
from s3_servers import Moto, S3Target, moto_target, unique_bucket

SUFFIX = {"tar": ".tar", "targz": ".tar.gz", "tarlz4": ".tar.lz4", "tarzst": ".tar.zst"}


@pytest.fixture(params=["moto", "ceph"])
def target(request: pytest.FixtureRequest) -> S3Target:
    if request.param == "ceph":
        return request.getfixturevalue("ceph_rgw")  # type: ignore[no-any-return]
    server: Moto = request.getfixturevalue("moto")
    return moto_target(server)


@pytest.mark.parametrize("method", list(SUFFIX))
def test_encrypted_round_trip(tmp_path: Path, target: S3Target, method: str) -> None:
    env = {**target.env(tmp_path, unique_bucket(), prefix="cluster/pg-0"), "BRS_COMPRESSION_METHOD": method}
    env["BRS_ENCRYPTION_KEY_FILE"] = str(tmp_path / "key")
    data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=1 << 20)
    expected = tree_snapshot(data)

    version = run_brs("backup", env=env, check=True).stdout.strip()
    backups = listed_backups(env)
    assert [b["version"] for b in backups] == [version]
    assert backups[0]["name"] == version + SUFFIX[method] + ".aes"

    shutil.rmtree(data)
    assert run_brs("restore", "latest", env=env, check=True).stdout.strip() == version
    assert tree_snapshot(data) == expected
