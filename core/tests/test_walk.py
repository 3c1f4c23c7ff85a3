"""Reading a tree for a backup while it changes: vanished names are skipped, shrunk files padded."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from brs.walk import walk


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
