"""Upgrade mechanics with the only Meilisearch version available here (1.21.0).

A real upgrade needs two versions. What these tests can prove with one: that a version
difference is detected from VERSION and ``--version``; that the data is dumped by the *previous*
binary and imported by the *current* one; that the new database replaces the old one only after
the import succeeded; that every missing prerequisite or failure is a DatabaseError and leaves the
old data untouched. To get a version difference, the "current" binary is a two-line wrapper that
reports 1.22.0 for ``--version`` and runs the real 1.21.0 binary for everything else. They do NOT
prove that a dump of one Meilisearch version imports into another (Meilisearch's own promise).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from brs.errors import DatabaseError
from brs.interfaces import DataDirStatus
from brs.testing import tree_snapshot
from brs_meilisearch import Meilisearch
from brs_meilisearch.testing import MeiliServer, assert_matches, driver, load_sample, snapshot

pytestmark = pytest.mark.server("meilisearch")


def _wrapper(path: Path, real: Path, version: str, *, fail: bool = False) -> Path:
    run = "echo 'simulated import failure' >&2; exit 1" if fail else f'exec "{real}" "$@"'
    path.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "meilisearch {version}"; exit 0; fi\n{run}\n')
    path.chmod(0o755)
    return path


def _driver(data_dir: Path, binary: Path, previous: Path | None = None) -> Meilisearch:
    options = {"meilisearch_binary": str(binary), "meilisearch_timeout": 120.0}
    if previous is not None:
        options["meilisearch_previous_binary"] = str(previous)
    return driver(options, data_dir)


@pytest.fixture
def old_data(start_server: Callable[..., MeiliServer], tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """A stopped 1.21.0 database with the sample data, and its snapshot."""
    server = start_server(tmp_path / "volume" / "data", tmp_path / "volume" / "dumps")
    load_sample(server.client())
    expected = snapshot(server.client())
    server.stop()
    return server.db_path, expected


def _previous_binary(data_dir: Path, real: Path) -> Path:
    """Where backups keep the binary (default location); a symlink spares copying 131 MB."""
    path = data_dir.parent / "previous-binary" / "meilisearch"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(real, path)
    return path


def test_upgrade_dumps_with_the_previous_binary_and_imports_with_the_current(
    old_data: tuple[Path, dict[str, object]], meili_binary: Path, start_server: Callable[..., MeiliServer], tmp_path: Path
) -> None:
    data_dir, expected = old_data
    _previous_binary(data_dir, meili_binary)
    old_inode = (data_dir / "tasks" / "data.mdb").stat().st_ino
    current = _wrapper(tmp_path / "meilisearch-1.22", meili_binary, "1.22.0")

    _driver(data_dir, current).upgrade(data_dir)

    # A new database (new files) is in place, and nothing of the work is left behind.
    assert (data_dir / "tasks" / "data.mdb").stat().st_ino != old_inode
    assert sorted(p.name for p in data_dir.parent.iterdir()) == ["data", "dumps", "logs", "previous-binary"]
    assert _driver(data_dir, meili_binary).check(data_dir).status is DataDirStatus.HEALTHY
    restored = start_server(data_dir, tmp_path / "volume" / "dumps")
    assert_matches(snapshot(restored.client()), expected)  # type: ignore[arg-type]


def test_keep_pre_upgrade_data_moves_the_old_data_aside(
    old_data: tuple[Path, dict[str, object]], meili_binary: Path, tmp_path: Path
) -> None:
    data_dir, _ = old_data
    _previous_binary(data_dir, meili_binary)
    before = tree_snapshot(data_dir)
    current = _wrapper(tmp_path / "meilisearch-1.22", meili_binary, "1.22.0")
    driver({"meilisearch_binary": str(current), "meilisearch_keep_pre_upgrade_data": True}, data_dir).upgrade(data_dir)
    kept = [p for p in data_dir.parent.iterdir() if ".brs-previous-" in p.name]
    assert len(kept) == 1
    # Same files (the old server touched VERSION and lock files when it wrote the dump).
    assert sorted(tree_snapshot(kept[0])) == sorted(before)
    assert (kept[0] / "VERSION").read_text() == "1.21.0"


def test_same_version_is_a_no_op(old_data: tuple[Path, dict[str, object]], meili_binary: Path) -> None:
    data_dir, _ = old_data
    before = tree_snapshot(data_dir)
    _driver(data_dir, meili_binary).upgrade(data_dir)  # no previous binary needed
    assert tree_snapshot(data_dir) == before


def test_empty_data_dir_is_a_no_op_even_without_a_binary(tmp_path: Path) -> None:
    _driver(tmp_path / "data", tmp_path / "no-meilisearch").upgrade(tmp_path / "data")


def test_missing_previous_binary_fails_loudly_and_keeps_the_data(
    old_data: tuple[Path, dict[str, object]], meili_binary: Path, tmp_path: Path
) -> None:
    data_dir, _ = old_data
    before = tree_snapshot(data_dir)
    current = _wrapper(tmp_path / "meilisearch-1.22", meili_binary, "1.22.0")
    with pytest.raises(DatabaseError, match=r"1\.21\.0 and the binary is 1\.22\.0: the upgrade needs the previous binary"):
        _driver(data_dir, current).upgrade(data_dir)
    assert tree_snapshot(data_dir) == before


def test_previous_binary_of_another_version_is_refused(
    old_data: tuple[Path, dict[str, object]], meili_binary: Path, tmp_path: Path
) -> None:
    data_dir, _ = old_data
    previous = _wrapper(tmp_path / "meilisearch-1.20", meili_binary, "1.20.0")
    current = _wrapper(tmp_path / "meilisearch-1.22", meili_binary, "1.22.0")
    with pytest.raises(DatabaseError, match=r"previous binary .* is Meilisearch 1\.20\.0, but the data .* is 1\.21\.0"):
        _driver(data_dir, current, previous).upgrade(data_dir)


def test_data_newer_than_the_binary_is_refused(old_data: tuple[Path, dict[str, object]], meili_binary: Path) -> None:
    data_dir, _ = old_data
    (data_dir / "VERSION").write_text("1.99.0")
    with pytest.raises(DatabaseError, match=r"newer than the installed 1\.21\.0"):
        _driver(data_dir, meili_binary).upgrade(data_dir)


def test_failed_import_keeps_the_old_data_and_leaves_nothing_behind(
    old_data: tuple[Path, dict[str, object]], meili_binary: Path, start_server: Callable[..., MeiliServer], tmp_path: Path
) -> None:
    data_dir, expected = old_data
    _previous_binary(data_dir, meili_binary)
    before = tree_snapshot(data_dir)
    broken = _wrapper(tmp_path / "meilisearch-1.22", meili_binary, "1.22.0", fail=True)
    with pytest.raises(DatabaseError, match="simulated import failure"):
        _driver(data_dir, broken).upgrade(data_dir)
    # The old database is still there and serves the same data. (Not byte-identical: the old
    # binary recorded the dump task in its task history, as every dump does.)
    assert sorted(tree_snapshot(data_dir)) == sorted(before)
    assert sorted(p.name for p in data_dir.parent.iterdir()) == ["data", "dumps", "logs", "previous-binary"]
    server = start_server(data_dir, tmp_path / "volume" / "dumps")
    assert_matches(snapshot(server.client()), expected)  # type: ignore[arg-type]
