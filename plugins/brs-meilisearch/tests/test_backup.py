"""Backups keep the binary that wrote the data for later upgrades, and only that one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brs.archive import ArchiveReader, ArchiveWriter
from brs.interfaces import DataDirStatus
from brs.testing import archive_of
from brs_meilisearch.testing import SampleServer, driver

pytestmark = pytest.mark.server("meilisearch")


def _backup(sample_server: SampleServer, binary: Path, previous: Path, tmp_path: Path) -> list[str]:
    with open(tmp_path / "backup.tar", "wb") as sink:
        writer = ArchiveWriter(sink)
        sample_server.server.driver(binary, meilisearch_previous_binary=str(previous)).dump(writer)
        writer.close()
    with open(tmp_path / "backup.tar", "rb") as source:
        return [entry.name for entry in ArchiveReader(source)]


def test_the_binary_is_copied_once_and_kept(sample_server: SampleServer, meili_binary: Path, tmp_path: Path) -> None:
    previous = tmp_path / "previous-binary" / "meilisearch"
    assert _backup(sample_server, meili_binary, previous, tmp_path) == ["brs-meilisearch.json", "meilisearch.dump"]
    first = previous.stat()
    assert first.st_size == meili_binary.stat().st_size and first.st_mode & 0o111
    _backup(sample_server, meili_binary, previous, tmp_path)
    assert previous.stat().st_ino == first.st_ino  # unchanged binary: not copied again
    assert list(sample_server.server.dump_dir.iterdir()) == []


def test_a_binary_of_another_version_than_the_server_is_not_kept(
    sample_server: SampleServer, meili_binary: Path, tmp_path: Path
) -> None:
    newer = tmp_path / "meilisearch-1.22"
    newer.write_text(f'#!/bin/sh\n[ "$1" = "--version" ] && echo "meilisearch 1.22.0" && exit 0\nexec "{meili_binary}" "$@"\n')
    newer.chmod(0o755)
    previous = tmp_path / "previous-binary" / "meilisearch"
    assert _backup(sample_server, newer, previous, tmp_path) == ["brs-meilisearch.json", "meilisearch.dump"]
    assert not previous.exists()


def test_a_backup_without_metadata_as_brs_0_1_made_it_still_restores(
    sample_server: SampleServer, meili_binary: Path, tmp_path: Path
) -> None:
    _backup(sample_server, meili_binary, tmp_path / "previous-binary" / "meilisearch", tmp_path)
    with open(tmp_path / "backup.tar", "rb") as source:
        for entry in ArchiveReader(source):
            if entry.name == "meilisearch.dump":
                with entry.open() as dump:
                    old = archive_of({"meilisearch.dump": dump.read()})
    target = tmp_path / "staging"
    target.mkdir()
    driver({"meilisearch_binary": str(meili_binary)}).restore(old, target)
    assert (target / "VERSION").read_text().strip() == "1.21.0"
    assert driver({}).check(target).status is DataDirStatus.HEALTHY


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_a_restore_as_root_gives_the_files_the_data_directory_owner(
    sample_server: SampleServer, meili_binary: Path, tmp_path: Path
) -> None:
    _backup(sample_server, meili_binary, tmp_path / "previous-binary" / "meilisearch", tmp_path)
    target = tmp_path / "staging"
    target.mkdir()
    os.chown(target, 4321, 4321)  # what core does when the data directory belongs to the database user
    with open(tmp_path / "backup.tar", "rb") as source:
        driver({"meilisearch_binary": str(meili_binary)}).restore(ArchiveReader(source), target)
    owners = {(p.lstat().st_uid, p.lstat().st_gid) for p in target.rglob("*")}
    assert owners == {(4321, 4321)}
