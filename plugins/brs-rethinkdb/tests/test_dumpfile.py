"""Recognising dump tarballs, including the empty one an empty database gives."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from brs.errors import DatabaseError
from brs_rethinkdb.dumpfile import dump_tables
from brs_rethinkdb.testing import write_dump_tarball


def test_tables_are_listed(tmp_path: Path) -> None:
    path = write_dump_tarball(tmp_path / "d.tar.gz", {"shop.items": [{"id": 1}], "shop.users": [], "test.t": [{"id": "x"}]})
    assert dump_tables(path) == ["shop.items", "shop.users", "test.t"]


def test_an_empty_database_gives_an_empty_but_valid_dump(tmp_path: Path) -> None:
    # What `rethinkdb dump` writes when there are no tables: a gzipped tar without members.
    with tarfile.open(tmp_path / "empty.tar.gz", mode="w:gz"):
        pass
    assert dump_tables(tmp_path / "empty.tar.gz") == []


def test_garbage_is_not_a_dump(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DatabaseError, match="not a readable rethinkdb dump"):
        dump_tables(tmp_path / "junk")


def test_a_foreign_tarball_is_not_a_dump(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with tarfile.open(tmp_path / "other.tar.gz", mode="w:gz") as tar:
        tar.add(tmp_path / "file.txt", arcname="file.txt")
    with pytest.raises(DatabaseError, match=r"unexpected member 'file\.txt'"):
        dump_tables(tmp_path / "other.tar.gz")
