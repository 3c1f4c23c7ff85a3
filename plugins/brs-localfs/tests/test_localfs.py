"""brs-localfs passes the database contract and keeps brs's own folders out of backups."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import DatabaseError
from brs.interfaces import Database, DataDirStatus, NoOptions, PluginContext
from brs.testing import BULK, DatabaseContract, cleared_special_bits, make_tree, tree_snapshot
from brs_localfs import LocalFs


def _driver(data_dir: Path) -> LocalFs:
    return LocalFs(PluginContext(name="localfs", settings=NoOptions(), data_dir=data_dir, log=logging.getLogger("localfs")))


class TestLocalFsContract(DatabaseContract):
    @pytest.fixture
    def source(self, tmp_path: Path) -> Path:
        return make_tree(tmp_path / "source", big_file_size=1 << 20)

    @pytest.fixture
    def database(self, source: Path) -> Database[Any]:
        return _driver(source)

    @pytest.fixture
    def unreachable_database(self, database: Database[Any]) -> Database[Any]:
        return database  # a directory has no server to be down

    @pytest.fixture
    def bulky_database(self, tmp_path: Path) -> Database[Any]:
        bulk = tmp_path / "bulk"
        bulk.mkdir()
        for index in range(BULK // (8 << 20) + 1):
            (bulk / f"part-{index}").write_bytes(os.urandom(8 << 20))
        return _driver(bulk)

    @pytest.fixture
    def assert_restored(self, source: Path) -> Callable[[Path], None]:
        # A restore clears setuid, setgid and sticky bits unless asked to keep them.
        expected = cleared_special_bits(tree_snapshot(source))

        def check(target: Path) -> None:
            assert tree_snapshot(target) == expected

        return check


def _dump(driver: LocalFs) -> bytes:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)  # type: ignore[arg-type]
    driver.dump(writer)
    writer.close()
    return sink.getvalue()


def test_brs_folders_and_lost_found_are_not_backed_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "lost+found").mkdir(parents=True)
    (data / ".brs-previous-20260101T000000Z").mkdir()
    (data / ".brs-previous-20260101T000000Z" / "old").write_text("old")
    (data / "keep.txt").write_text("keep")
    names = [entry.name for entry in ArchiveReader(io.BytesIO(_dump(_driver(data))))]
    assert names == ["data", "data/keep.txt"]


def test_check_reports_empty_healthy_and_not_a_directory(tmp_path: Path) -> None:
    driver = _driver(tmp_path / "data")
    assert driver.check(tmp_path / "data").status is DataDirStatus.EMPTY
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("x")
    assert driver.check(tmp_path / "data").status is DataDirStatus.HEALTHY
    (tmp_path / "file").write_text("x")
    assert driver.check(tmp_path / "file").status is DataDirStatus.CORRUPT


def test_dump_of_a_missing_directory_is_a_database_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        _dump(_driver(tmp_path / "missing"))
