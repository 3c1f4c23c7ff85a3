"""Restores that fail leave an empty target and raise one-line DatabaseErrors; data dir checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brs.errors import DatabaseError
from brs.interfaces import DataDirStatus
from brs.testing import archive_of
from brs_meilisearch import Meilisearch
from brs_meilisearch.testing import driver

pytestmark = pytest.mark.server("meilisearch")


def _driver(binary: Path | str) -> Meilisearch:
    return driver({"meilisearch_binary": str(binary), "meilisearch_timeout": 60.0})


def test_a_damaged_dump_fails_and_leaves_the_target_empty(meili_binary: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(DatabaseError) as caught:
        _driver(meili_binary).restore(archive_of({"meilisearch.dump": b"this is not a dump"}), target)
    assert "\n" not in str(caught.value)
    assert "exited with code" in str(caught.value)
    assert os.listdir(target) == []


def test_an_archive_without_a_dump_is_refused(meili_binary: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(DatabaseError, match=r"holds no meilisearch\.dump"):
        _driver(meili_binary).restore(archive_of({}), target)
    assert os.listdir(target) == []


def test_a_foreign_archive_is_refused(meili_binary: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(DatabaseError, match=r"unexpected member 'dump\.rdb'"):
        _driver(meili_binary).restore(archive_of({"dump.rdb": b"REDIS"}), target)
    assert os.listdir(target) == []


def test_a_missing_binary_is_a_one_line_error(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(DatabaseError, match="not found or not executable"):
        _driver(tmp_path / "no-such-meilisearch").restore(archive_of({"meilisearch.dump": b"x"}), target)
    assert os.listdir(target) == []


def test_check_tells_empty_from_corrupt(tmp_path: Path) -> None:
    driver = _driver("meilisearch")
    data = tmp_path / "data"
    assert driver.check(data).status is DataDirStatus.EMPTY
    data.mkdir()
    (data / ".brs-previous-binary").mkdir()  # brs's own folders do not count as data
    assert driver.check(data).status is DataDirStatus.EMPTY
    (data / "indexes").mkdir()
    state = driver.check(data)
    assert state.status is DataDirStatus.CORRUPT and "VERSION" in state.reason
    (data / "VERSION").write_text("1.21.0")
    state = driver.check(data)
    assert state.status is DataDirStatus.CORRUPT and "tasks/data.mdb" in state.reason
    for name in ("tasks", "auth"):
        (data / name).mkdir()
        (data / name / "data.mdb").write_bytes(b"")
    assert driver.check(data).status is DataDirStatus.HEALTHY
    (data / "indexes" / "0c9e5d7a").mkdir()
    state = driver.check(data)
    assert state.status is DataDirStatus.CORRUPT and "indexes/0c9e5d7a/data.mdb" in state.reason
    (data / "VERSION").write_text("garbage")
    assert driver.check(data).status is DataDirStatus.CORRUPT


def test_a_backup_of_a_newer_metadata_format_is_refused_before_anything_runs(meili_binary: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    archive = archive_of({"brs-meilisearch.json": b'{"format": 2}', "meilisearch.dump": b"x"})
    with pytest.raises(DatabaseError, match=r"^the backup's brs-meilisearch.json has format 2, newer than the 1 "):
        _driver(meili_binary).restore(archive, target)
    assert os.listdir(target) == []
