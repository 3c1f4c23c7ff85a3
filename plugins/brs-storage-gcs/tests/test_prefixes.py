"""Sidecars sharing a bucket under different prefixes never see or prune each other's backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from brs.interfaces import Role
from brs.testing import listed_backups, run_brs
from gcs_servers import Emulator, engine_for, unique_bucket

from brs_storage_gcs import GcsStorage


def test_two_sidecars_in_one_bucket_keep_to_themselves(
    tmp_path: Path, gcs_emulator: Emulator, gcs_storage_on: Callable[..., GcsStorage]
) -> None:
    bucket = unique_bucket()
    # "db" is a prefix of "db-2" as a string: the folder semantics must keep them apart.
    ours = {**gcs_emulator.env(tmp_path / "a", bucket, prefix="team/db"), "BRS_OBJECT_MAX_KEEP": "20"}
    theirs = {**gcs_emulator.env(tmp_path / "b", bucket, prefix="team/db-2"), "BRS_OBJECT_MAX_KEEP": "1"}
    for env in (ours, theirs):
        Path(env["BRS_DB_DATA_DIRECTORY"]).mkdir()
        (Path(env["BRS_DB_DATA_DIRECTORY"]) / "file").write_text("tiny\n")
    their_first = run_brs("backup", env=theirs, check=True).stdout.strip()

    # 25 backups with --object-max-keep 20, in-process to keep the loop fast.
    engine = engine_for(gcs_storage_on(gcs_emulator, bucket, "team/db"), Path(ours["BRS_DB_DATA_DIRECTORY"]), max_keep=20)
    made = [engine.backup().backup_id for _ in range(25)]
    ours_listed = [b["version"] for b in listed_backups(ours)]
    assert ours_listed == list(reversed(made[-20:]))
    assert len(engine.session.call(Role.STORAGE, "brs_storage_list")) == 40  # objects + manifests

    their_second = run_brs("backup", env=theirs, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(theirs)] == [their_second]
    assert their_first not in ours_listed
    assert [b["version"] for b in listed_backups(ours)] == ours_listed
