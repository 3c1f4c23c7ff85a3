"""Sidecars sharing a container under different prefixes never see or prune each other's backups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from brs.interfaces import Role
from brs.testing import listed_backups, run_brs
from azure_servers import Azurite, engine_for, unique_container

from brs_storage_azure import AzureStorage


def test_two_sidecars_in_one_container_keep_to_themselves(
    tmp_path: Path, azurite: Azurite, azure_storage_on: Callable[..., AzureStorage]
) -> None:
    container = unique_container()
    # "db" is a prefix of "db-2" as a string: the folder semantics must keep them apart.
    ours = {**azurite.env(tmp_path / "a", container, prefix="team/db"), "BRS_OBJECT_MAX_KEEP": "20"}
    theirs = {**azurite.env(tmp_path / "b", container, prefix="team/db-2"), "BRS_OBJECT_MAX_KEEP": "1"}
    for env in (ours, theirs):
        Path(env["BRS_DB_DATA_DIRECTORY"]).mkdir()
        (Path(env["BRS_DB_DATA_DIRECTORY"]) / "file").write_text("tiny\n")
    their_first = run_brs("backup", env=theirs, check=True).stdout.strip()

    # 25 backups with --object-max-keep 20, in-process to keep the loop fast.
    engine = engine_for(azure_storage_on(azurite, container, "team/db"), Path(ours["BRS_DB_DATA_DIRECTORY"]), max_keep=20)
    made = [engine.backup().backup_id for _ in range(25)]
    ours_listed = [b["version"] for b in listed_backups(ours)]
    assert ours_listed == list(reversed(made[-20:]))
    assert len(engine.session.call(Role.STORAGE, "brs_storage_list")) == 40  # objects + manifests

    their_second = run_brs("backup", env=theirs, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(theirs)] == [their_second]
    assert their_first not in ours_listed
    assert [b["version"] for b in listed_backups(ours)] == ours_listed
