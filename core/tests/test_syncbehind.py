"""Syncs behind a writer: one per interval, merged while one runs, waited for on leaving, and no
error of theirs lost."""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from brs import datadir
from brs.assembly import storage
from brs.engine import Engine
from brs.errors import LocalIOError, StorageError
from brs.interfaces import Storage
from brs.syncbehind import SyncBehind
from brs.testing import tree_snapshot

_MIB = 1 << 20


def _sync_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "brs-sync-behind"]


def test_a_file_written_in_pieces_is_synced_behind_the_writer_and_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "object"
    data = os.urandom(4 * _MIB)
    with open(path, "wb") as out:
        with SyncBehind(partial(os.fdatasync, out.fileno()), interval=_MIB) as syncing:
            for start in range(0, len(data), 256 << 10):
                out.write(data[start : start + (256 << 10)])
                out.flush()
                syncing.wrote(256 << 10)
            # A request still waiting when the block is left is dropped (the caller's own final
            # sync follows): give the thread its time, as a longer write would.
            deadline = time.monotonic() + 10
            while not syncing.completed and time.monotonic() < deadline:
                time.sleep(0.01)
        # Four requests, some merged while a sync ran: at least one ran, none after leaving.
        assert 1 <= syncing.completed <= 4
        assert not _sync_threads()
    assert path.read_bytes() == data


def test_less_than_an_interval_starts_no_thread(tmp_path: Path) -> None:
    calls: list[int] = []
    with SyncBehind(lambda: calls.append(1), interval=_MIB) as syncing:
        syncing.wrote(_MIB - 1)
        assert not _sync_threads()
    assert calls == []


def test_leaving_waits_for_the_running_sync() -> None:
    started, events = threading.Event(), []

    def slow_sync() -> None:
        started.set()
        time.sleep(0.2)
        events.append("synced")

    with SyncBehind(slow_sync, interval=1) as syncing:
        syncing.wrote(1)
        assert started.wait(10)
    events.append("left")
    assert events == ["synced", "left"]


def test_a_sync_error_ends_the_syncs_and_is_raised_on_leaving() -> None:
    calls: list[int] = []

    def failing_disk() -> None:
        calls.append(1)
        raise OSError(errno.EIO, "Input/output error")

    syncing = SyncBehind(failing_disk, interval=1)
    syncing.wrote(1)
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(5):
        syncing.wrote(1)  # the writer (a pipeline stage) is not the one to report it
    with pytest.raises(OSError, match="Input/output error"):
        syncing.close()
    assert calls == [1]
    assert not _sync_threads()


def test_an_error_on_its_way_out_is_not_replaced_by_a_sync_error() -> None:
    synced = threading.Event()

    def failing_disk() -> None:
        synced.set()
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(ValueError, match="the source failed"), SyncBehind(failing_disk, interval=1) as syncing:
        syncing.wrote(1)
        assert synced.wait(10)
        raise ValueError("the source failed")
    assert not _sync_threads()


def _local_storage(root: Path) -> Storage[Any]:
    local = storage("local", {"local_provider_backup_path": str(root)})
    local.ensure()
    return local


def test_a_local_upload_larger_than_the_sync_interval_is_stored_whole(tmp_path: Path) -> None:
    data = os.urandom(80 * _MIB)
    local = _local_storage(tmp_path)
    assert local.upload("object", io.BytesIO(data)) == len(data)
    assert (tmp_path / "object").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["object"]
    assert not _sync_threads()


def test_a_disk_error_seen_by_a_sync_behind_the_upload_fails_it_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failing disk cannot be had here: the error is injected into the sync behind the writer.
    # Linux reports it once per descriptor, so the final fsync would succeed: the upload must
    # still fail, and leave neither the object nor its temporary file.
    def failing_fdatasync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
    local = _local_storage(tmp_path)
    with pytest.raises(StorageError, match=r"cannot write .*object: Input/output error"):
        local.upload("object", io.BytesIO(os.urandom(80 * _MIB)))
    assert list(tmp_path.iterdir()) == []
    assert not _sync_threads()


# -- restores ------------------------------------------------------------------------------


@pytest.fixture
def backed_up(tmp_path: Path, make_engine: Callable[..., Engine]) -> tuple[Engine, Path]:
    """An engine and its data directory (a 72 MiB relation and 20 small files), backed up: the
    extraction goes on for 40 MiB after the first sync is asked for."""
    data = tmp_path / "data"
    (data / "base").mkdir(parents=True)
    (data / "base" / "relation").write_bytes(os.urandom(72 * _MIB))
    for n in range(20):
        (data / "base" / f"small-{n}").write_bytes(os.urandom(5000))
    engine = make_engine(data, compression="tarlz4")
    engine.backup()
    return engine, data


def test_a_restore_syncs_behind_the_extraction_and_brings_back_every_byte(
    backed_up: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, data = backed_up
    before = tree_snapshot(data)
    (data / "base" / "relation").write_bytes(b"changed")
    synced: list[int] = []
    real_syncfs = datadir.syncfs

    def counted_syncfs(fd: int) -> None:  # the real call, counted
        synced.append(fd)
        real_syncfs(fd)

    monkeypatch.setattr(datadir, "syncfs", counted_syncfs)
    engine.restore("latest", keep_previous=False)
    assert tree_snapshot(data) == before
    # At least one sync behind the extraction, and the swap's, all through the one staging descriptor.
    assert len(synced) >= 2
    assert len(set(synced)) == 1
    assert not _sync_threads()


def test_a_write_back_error_during_a_restore_fails_it_and_leaves_the_data_directory(
    tmp_path: Path, backed_up: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failing disk cannot be had here: the error is injected where syncfs reports it.
    engine, data = backed_up
    (data / "base" / "relation").write_bytes(b"current")
    current = tree_snapshot(data)

    def failing_syncfs(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(datadir, "syncfs", failing_syncfs)
    with pytest.raises(LocalIOError, match=r"Input/output error.*the data directory was left as it was"):
        engine.restore("latest")
    assert tree_snapshot(data) == current
    assert sorted(p.name for p in tmp_path.iterdir()) == [".data.brs-lock", "data", "store"]  # no staging left
    assert not _sync_threads()
