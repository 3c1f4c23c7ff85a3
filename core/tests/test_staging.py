"""Emptying and re-owning core's staging directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brs.staging import clear_directory, match_owner


def test_clear_directory_keeps_only_the_directory(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    (tmp_path / "metadata").write_text("x")
    os.symlink("nowhere", tmp_path / "link")
    clear_directory(tmp_path)
    assert tmp_path.is_dir() and os.listdir(tmp_path) == []
    clear_directory(tmp_path / "missing")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_match_owner(tmp_path: Path) -> None:
    (tmp_path / "t" / "sub").mkdir(parents=True)
    (tmp_path / "t" / "sub" / "file").write_text("x")
    os.symlink("sub/file", tmp_path / "t" / "link")
    os.chown(tmp_path / "t", 4321, 4322)
    match_owner(tmp_path / "t")
    assert {(p.lstat().st_uid, p.lstat().st_gid) for p in (tmp_path / "t").rglob("*")} == {(4321, 4322)}
