"""Reading a tree for a backup while it changes: vanished names are skipped, shrunk files padded."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from brs.walk import walk

_CHANGED = "it changed or disappeared during the backup"


def test_a_name_that_vanishes_after_listing_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "d").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "d" / name).write_bytes(name.encode())
    names = []
    with caplog.at_level(logging.WARNING, logger="brs.archive"):
        for found in walk(tmp_path, "data"):
            names.append(found.info.name)
            if found.info.name == "data/d":  # listed already: b goes before it is read
                (tmp_path / "d" / "b").unlink()
            if found.content is not None:
                found.content.read()
    assert names == ["data", "data/d", "data/d/a", "data/d/c"]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped {tmp_path / 'd' / 'b'}: it changed or disappeared during the backup"
    ]


def test_a_file_that_shrinks_while_read_is_padded_to_its_header_size(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100)
    with caplog.at_level(logging.WARNING, logger="brs.archive"):
        for found in walk(tmp_path, "data"):
            if found.content is not None:
                os.truncate(tmp_path / "f", 40)
                assert found.info.size == 100
                assert found.content.read(100) == b"x" * 40 + bytes(60)
    assert "shrank by 60 bytes" in caplog.text


@pytest.mark.parametrize(
    ("listed", "replacement", "reason"),
    [
        ("file", "directory", "it was replaced by a directory during the backup"),
        ("file", "symlink", _CHANGED),
        ("directory", "file", _CHANGED),
        ("directory", "symlink", _CHANGED),
        ("symlink", "file", _CHANGED),
    ],
)
def test_a_name_whose_type_changes_after_listing_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, listed: str, replacement: str, reason: str
) -> None:
    # Files and directories are opened by the type their listing gave (no lstat first): a
    # name that became something else is neither followed nor stored under the wrong type.
    (tmp_path / "tree" / "d").mkdir(parents=True)
    (tmp_path / "tree" / "d" / "a").write_bytes(b"a")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"secret")
    b = tmp_path / "tree" / "d" / "b"
    _make(b, listed, tmp_path / "outside")
    names, contents = [], {}
    with caplog.at_level(logging.WARNING, logger="brs.archive"):
        for found in walk(tmp_path / "tree", "data"):
            names.append(found.info.name)
            if found.info.name == "data/d":  # listed already: b changes before it is read
                _remove(b)
                _make(b, replacement, tmp_path / "outside")
            if found.content is not None:
                contents[found.info.name] = found.content.read()
    assert names == ["data", "data/d", "data/d/a"]
    assert contents == {"data/d/a": b"a"}
    assert [r.getMessage() for r in caplog.records] == [f"skipped {b}: {reason}"]


def test_directories_files_and_symlinks_are_stored_with_their_types_and_fifos_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file").write_bytes(b"content")
    (tmp_path / "link").symlink_to("dir/file")
    (tmp_path / "dirlink").symlink_to("dir")
    os.mkfifo(tmp_path / "fifo")
    kinds = {}
    with caplog.at_level(logging.WARNING, logger="brs.archive"):
        for found in walk(tmp_path, "data"):
            kinds[found.info.name] = (found.info.type, found.info.linkname, found.content.read() if found.content else None)
    assert kinds == {
        "data": (b"5", "", None),
        "data/dir": (b"5", "", None),
        "data/dir/file": (b"0", "", b"content"),
        "data/dirlink": (b"2", "dir", None),
        "data/link": (b"2", "dir/file", None),
    }
    assert [r.getMessage() for r in caplog.records] == [f"skipped {tmp_path / 'fifo'}: a FIFO holds no data a restore could use"]


def _make(path: Path, kind: str, outside: Path) -> None:
    if kind == "file":
        path.write_bytes(b"replaced")
    elif kind == "directory":
        path.mkdir()
        (path / "inner").write_bytes(b"inner")
    else:
        path.symlink_to(outside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        (path / "inner").unlink(missing_ok=True)
        path.rmdir()
    else:
        path.unlink()
