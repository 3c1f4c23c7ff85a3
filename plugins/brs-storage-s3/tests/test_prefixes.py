"""Sidecars sharing a bucket under different prefixes never see or prune each other's backups."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.interfaces import Role
from brs.testing import listed_backups, run_brs
from s3_servers import Moto, S3Target, engine_for, moto_target, unique_bucket


@pytest.fixture(params=["moto", "ceph"])
def target(request: pytest.FixtureRequest) -> tuple[S3Target, int, int]:
    """The server, how many backups to take and how many to keep (fewer on slower Ceph)."""
    if request.param == "ceph":
        return request.getfixturevalue("ceph_rgw"), 7, 4
    server: Moto = request.getfixturevalue("moto")
    return moto_target(server), 25, 20


def _tiny(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "file").write_text("tiny\n")


def test_two_sidecars_in_one_bucket_keep_to_themselves(tmp_path: Path, target: tuple[S3Target, int, int]) -> None:
    target, count, keep = target  # type: ignore[assignment]
    bucket = unique_bucket()
    # "db" is a prefix of "db-2" as a string: the folder semantics must keep them apart.
    ours = {**target.env(tmp_path / "a", bucket, prefix="team/db"), "BRS_OBJECT_MAX_KEEP": str(keep)}
    theirs = {**target.env(tmp_path / "b", bucket, prefix="team/db-2"), "BRS_OBJECT_MAX_KEEP": "1"}
    for env in (ours, theirs):
        _tiny(Path(env["BRS_DB_DATA_DIRECTORY"]))
    their_first = run_brs("backup", env=theirs, check=True).stdout.strip()

    # 25 backups with --object-max-keep 20 (on moto), in-process to keep the loop fast.
    engine = engine_for(target, bucket, "team/db", Path(ours["BRS_DB_DATA_DIRECTORY"]), max_keep=keep)
    made = [engine.backup().backup_id for _ in range(count)]
    ours_listed = [b["version"] for b in listed_backups(ours)]
    assert ours_listed == list(reversed(made[-keep:]))
    assert len(engine.session.call(Role.STORAGE, "brs_storage_list")) == 2 * keep  # objects + manifests

    # Their retention (keep 1) runs after their next backup and must not touch ours.
    their_second = run_brs("backup", env=theirs, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(theirs)] == [their_second]
    assert their_first not in ours_listed
    assert [b["version"] for b in listed_backups(ours)] == ours_listed
