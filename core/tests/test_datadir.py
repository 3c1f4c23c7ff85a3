"""Staging and swapping: the previous data is set aside, never deleted first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brs import datadir


def test_is_empty_ignores_lost_found_and_brs_folders(tmp_path: Path) -> None:
    assert datadir.is_empty(tmp_path / "missing")
    (tmp_path / "lost+found").mkdir()
    (tmp_path / ".brs-previous-x").mkdir()
    assert datadir.is_empty(tmp_path)
    (tmp_path / "PG_VERSION").write_text("16")
    assert not datadir.is_empty(tmp_path)


def test_staging_copies_owner_and_mode_of_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    os.chmod(data, 0o750)
    staging = datadir.prepare_staging(data, "b1")
    assert staging.parent == tmp_path and staging.stat().st_mode & 0o777 == 0o750


def test_swap_keeps_the_previous_content_aside(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "old.txt").write_text("old")
    staging = datadir.prepare_staging(data, "b1")
    (staging / "new.txt").write_text("new")
    previous = datadir.swap_in(staging, data)
    assert sorted(p.name for p in data.iterdir()) == ["new.txt"]
    assert previous is not None and (previous / "old.txt").read_text() == "old"
    assert not staging.exists()


def test_swap_can_discard_the_previous_content_after_the_swap(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "old.txt").write_text("old")
    staging = datadir.prepare_staging(data, "b1")
    (staging / "new.txt").write_text("new")
    assert datadir.swap_in(staging, data, keep_previous=False) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_swap_into_a_mount_point_moves_entries_not_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PVC root cannot be renamed: staging and the set-aside copy live inside it."""
    data = tmp_path / "volume"
    data.mkdir()
    monkeypatch.setattr(datadir, "is_mount_point", lambda path: path == data)
    (data / "lost+found").mkdir()
    (data / "old.txt").write_text("old")
    staging = datadir.prepare_staging(data, "b1")
    assert staging.parent == data
    (staging / "new.txt").write_text("new")
    previous = datadir.swap_in(staging, data)
    assert previous is not None and previous.parent == data and (previous / "old.txt").read_text() == "old"
    assert sorted(p.name for p in data.iterdir() if not datadir.is_reserved(p.name)) == ["lost+found", "new.txt"]


def test_set_aside_of_a_corrupt_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "broken").write_text("x")
    aside = datadir.set_aside(data, "corrupt")
    assert aside is not None and (aside / "broken").exists() and not data.exists()
    assert datadir.set_aside(data, "corrupt") is None


def test_the_restored_content_reaches_the_disk_before_the_swap(tmp_path: Path) -> None:
    """A real process under strace: syncfs of the staging file system precedes the first rename."""
    strace = shutil.which("strace")
    assert strace, "strace is not installed (make system-deps)"
    data = tmp_path / "data"
    data.mkdir()
    (data / "old.txt").write_text("old")
    script = (
        "import sys; from pathlib import Path; from brs import datadir\n"
        "data = Path(sys.argv[1]); staging = datadir.prepare_staging(data, 'test')\n"
        "(staging / 'new.txt').write_text('new')\n"
        "datadir.swap_in(staging, data, keep_previous=False)\n"
    )
    trace = tmp_path / "trace"
    subprocess.run(
        [strace, "-f", "-qq", "-o", str(trace), "-e", "trace=syncfs,sync,rename,renameat,renameat2",
         sys.executable, "-c", script, str(data)],
        check=True,
    )  # fmt: skip
    calls = [line for line in trace.read_text().splitlines() if "(" in line]
    flushes = [n for n, line in enumerate(calls) if "syncfs(" in line or " sync()" in line]
    renames = [n for n, line in enumerate(calls) if "rename" in line and "staging-test" in line]
    assert flushes and renames and flushes[0] < renames[0], calls
    assert (data / "new.txt").read_text() == "new" and not (data / "old.txt").exists()
