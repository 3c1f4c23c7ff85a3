"""Abstract pytest classes that every storage, compression and database plugin passes.

A plugin's test module subclasses a contract and provides the fixtures it documents; pytest
then runs every ``test_*`` method against the plugin. The classes hold no state of their own.
"""

from __future__ import annotations

import io
import os
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import BackupNotFound, BrsError, ConfigError, DatabaseError, IntegrityError, StorageError
from brs.interfaces import Compression, Database, DataDirStatus, Storage

__all__ = ["BULK", "CompressionContract", "DatabaseContract", "StorageContract"]

_MiB = 1 << 20


class _FailingSource(io.RawIOBase):
    """Yields ``size`` bytes, then raises: an upload that breaks in the middle."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            raise RuntimeError("the pipeline broke")
        n = self._left if n is None or n < 0 else min(n, self._left)
        self._left -= n
        return os.urandom(n)


class _CountingSource(io.RawIOBase):
    """Remembers the largest read, to check that uploads stream."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.largest = max(self.largest, n if n is not None and n >= 0 else 1 << 62)
        return self._data.read(n)


class StorageContract:
    """Contract for ``brs.storage`` drivers.

    Provide fixtures:

    * ``storage_factory``: a callable ``(prefix: str) -> Storage`` that builds a driver for a
      fresh, empty location (its bucket may be shared between prefixes);
    * ``unreachable_storage``: a driver configured for a server that does not answer (a free
      loopback port); the built-in local storage gives a path it cannot use instead.
    """

    @pytest.fixture
    def storage_factory(self) -> Callable[[str], Storage[Any]]:
        raise NotImplementedError("provide a storage_factory fixture")

    @pytest.fixture
    def storage(self, storage_factory: Callable[[str], Storage[Any]]) -> Storage[Any]:
        driver = storage_factory("contract")
        driver.ensure()
        return driver

    @staticmethod
    def _read(storage: Storage[Any], name: str) -> bytes:
        with storage.download(name) as handle:
            return handle.read()

    def test_ensure_is_idempotent(self, storage: Storage[Any]) -> None:
        storage.ensure()
        storage.ensure()

    @pytest.mark.parametrize("size", [0, 1, 5 * _MiB + 3])
    def test_upload_then_download_returns_the_same_bytes(self, storage: Storage[Any], size: int) -> None:
        data = os.urandom(size)
        assert storage.upload(f"obj-{size}", io.BytesIO(data)) == size
        assert self._read(storage, f"obj-{size}") == data

    def test_listing_shows_names_relative_to_the_prefix_with_sizes(self, storage: Storage[Any]) -> None:
        storage.upload("one", io.BytesIO(b"1"))
        storage.upload("two.manifest.json", io.BytesIO(b"22"))
        listed = {obj.name: obj.size for obj in storage.list()}
        assert listed == {"one": 1, "two.manifest.json": 2}
        assert all(obj.modified.tzinfo is not None for obj in storage.list())

    def test_delete_removes_and_tolerates_missing_objects(self, storage: Storage[Any]) -> None:
        storage.upload("gone", io.BytesIO(b"x"))
        storage.delete("gone")
        storage.delete("gone")
        assert [obj.name for obj in storage.list()] == []

    def test_download_of_a_missing_object_is_backup_not_found(self, storage: Storage[Any]) -> None:
        with pytest.raises(BackupNotFound):
            self._read(storage, "missing")

    @pytest.fixture
    def unreachable_storage(self) -> Storage[Any]:
        raise NotImplementedError("provide an unreachable_storage fixture")

    def test_a_failed_upload_leaves_nothing_listed(self, storage: Storage[Any]) -> None:
        # A driver may pass the source's error on or wrap it in a StorageError that names it.
        with pytest.raises((RuntimeError, BrsError)) as caught:
            storage.upload("broken", cast(BinaryIO, _FailingSource(3 * _MiB)))
        assert "the pipeline broke" in _chain(caught.value)
        assert [obj.name for obj in storage.list()] == []

    def test_an_unreachable_storage_is_a_one_line_storage_error(self, unreachable_storage: Storage[Any]) -> None:
        for operation in (unreachable_storage.ensure, unreachable_storage.list):
            with pytest.raises(StorageError) as caught:
                operation()
            assert "\n" not in str(caught.value) and str(caught.value)

    def test_upload_reads_in_bounded_pieces(self, storage: Storage[Any]) -> None:
        source = _CountingSource(os.urandom(9 * _MiB))
        storage.upload("streamed", cast(BinaryIO, source))
        assert source.largest <= 64 * _MiB

    def test_prefix_is_a_folder(self, storage_factory: Callable[[str], Storage[Any]]) -> None:
        foo, foobar = storage_factory("foo"), storage_factory("foo-bar")
        for driver in (foo, foobar):
            driver.ensure()
        foo.upload("mine", io.BytesIO(b"foo"))
        foobar.upload("theirs", io.BytesIO(b"foobar"))
        assert [obj.name for obj in foo.list()] == ["mine"]
        assert [obj.name for obj in foobar.list()] == ["theirs"]
        foo.delete("theirs")
        assert [obj.name for obj in foobar.list()] == ["theirs"]


class CompressionContract:
    """Contract for ``brs.compression`` drivers.

    Provide a fixture ``compression``; override ``frames_its_stream`` to return False for a
    method without framing (plain tar passes bytes through, so it cannot notice damage: the
    archive layer and the object's SHA-256 do).
    """

    @pytest.fixture
    def compression(self) -> Compression:
        raise NotImplementedError("provide a compression fixture")

    @pytest.fixture
    def frames_its_stream(self) -> bool:
        return True

    @staticmethod
    def _compress(compression: Compression, data: bytes) -> bytes:
        compressor = compression.compressor()
        out = [compressor.compress(data[i : i + _MiB]) for i in range(0, len(data), _MiB)]
        return b"".join(out) + compressor.flush()

    @staticmethod
    def _decompress(compression: Compression, data: bytes, read_size: int = _MiB) -> tuple[bytes, int]:
        reader = compression.decompress(io.BytesIO(data))
        pieces, largest = [], 0
        while piece := reader.read(read_size):
            largest = max(largest, len(piece))
            pieces.append(piece)
        return b"".join(pieces), largest

    def test_suffix_names_a_tar_stream(self, compression: Compression) -> None:
        assert type(compression).suffix.startswith(".tar")

    @pytest.mark.parametrize("size", [0, 1, _MiB - 1, 3 * _MiB + 7])
    def test_round_trip(self, compression: Compression, size: int) -> None:
        data = os.urandom(size // 2) + b"abc" * (size // 6) + bytes(size - size // 2 - 3 * (size // 6))
        compressed = self._compress(compression, data)
        assert self._decompress(compression, compressed)[0] == data

    def test_reads_are_bounded_even_for_extreme_ratios(self, compression: Compression) -> None:
        data = bytes(64 * _MiB)
        restored, largest = self._decompress(compression, self._compress(compression, data), read_size=256 * 1024)
        assert len(restored) == len(data)
        assert largest <= 256 * 1024

    def test_truncated_input_is_an_integrity_error(self, compression: Compression, frames_its_stream: bool) -> None:
        compressed = self._compress(compression, os.urandom(2 * _MiB))
        cut = compressed[: len(compressed) - 7]
        if not frames_its_stream:
            assert self._decompress(compression, cut)[0] == cut
            return
        with pytest.raises(IntegrityError):
            self._decompress(compression, cut)

    def test_garbage_is_an_integrity_error(self, compression: Compression, frames_its_stream: bool) -> None:
        garbage = b"this is not compressed data at all" * 100
        if not frames_its_stream:
            assert self._decompress(compression, garbage)[0] == garbage
            return
        with pytest.raises(IntegrityError):
            self._decompress(compression, garbage)

    def test_every_level_reads_back_and_a_level_outside_the_range_is_refused(self, compression: Compression) -> None:
        """``--compression-level`` (:attr:`Compression.levels`) changes what is stored, never
        what a restore reads: the lowest and highest level round-trip through the streaming
        compressor and frames, and a level outside the range is a one-line ConfigError."""
        levels = type(compression).levels
        if levels is None:
            with pytest.raises(ConfigError, match="has no compression levels"):
                compression.use_level(1)
            return
        low, high = levels
        assert low <= compression.level <= high, "the default level must be one of the levels"
        data = b"".join(b"row %d of a table, %s\n" % (n, b"abc" * (n % 7)) for n in range(20_000))
        stored = {}
        for level in (low, high):
            compression.use_level(level)
            stored[level] = self._compress(compression, data)
            assert self._decompress(compression, stored[level])[0] == data
            if type(compression).frame_size:
                assert (
                    self._decompress(compression, compression.compress_frame(data[: type(compression).frame_size]))[0]
                    == (data[: type(compression).frame_size])
                )
        assert len(stored[high]) <= len(stored[low])
        for outside in (low - 1, high + 1):
            with pytest.raises(ConfigError, match=f"--compression-level {outside}: .* takes {low} to {high}"):
                compression.use_level(outside)
        assert compression.level == high  # a refused level changes nothing

    def test_frames_compressed_apart_read_back_as_one_stream(self, compression: Compression) -> None:
        """With ``frame_size`` set, the engine stores independently compressed frames one after
        the other; :meth:`Compression.decompress` must return their inputs, joined."""
        size = type(compression).frame_size
        if not size:
            with pytest.raises(NotImplementedError):
                compression.compress_frame(b"data")
            return
        data = os.urandom(size // 2) + b"abc" * size + bytes(size // 3)
        frames = [compression.compress_frame(data[i : i + size]) for i in range(0, len(data), size)]
        assert len(frames) > 3
        assert self._decompress(compression, b"".join(frames))[0] == data
        assert self._decompress(compression, compression.compress_frame(b""))[0] == b""

    def test_frames_are_cut_apart_by_their_headers_and_decompressed_one_by_one(self, compression: Compression) -> None:
        """A method that overrides :meth:`Compression.frame_length` lets restores decompress
        frames on several threads: it must find each frame's end, say ``None`` for a frame that
        is not complete yet or is larger than ``frame_size``, and :meth:`decompress_frame` must
        give back each frame's input. Both are given memoryviews, as restores pass them."""
        if type(compression).frame_length is Compression.frame_length:
            assert compression.frame_length(compression.compress_frame(b"data") if compression.frame_size else b"x") is None
            return
        size = type(compression).frame_size
        data = os.urandom(size // 2) + b"abc" * size + bytes(size // 3)
        frames = [compression.compress_frame(data[i : i + size]) for i in range(0, len(data), size)]
        stream, restored = b"".join(frames), []
        for frame in frames:
            assert compression.frame_length(stream) == len(frame)
            assert compression.frame_length(memoryview(stream)) == len(frame)  # a slice of a piece
            assert compression.frame_length(bytearray(stream[: len(frame) - 1])) is None
            restored.append(compression.decompress_frame(memoryview(stream)[: len(frame)]))
            stream = stream[len(frame) :]
        assert b"".join(restored) == data
        assert compression.decompress_frame(compression.compress_frame(b"")) == b""
        too_large = self._compress(compression, bytes(size + 1))  # the streaming compressor's frame
        assert compression.frame_length(too_large) is None
        assert compression.frame_length(b"this is not compressed data at all" * 100) is None


class DatabaseContract:
    """Contract for ``brs.database`` drivers.

    Provide fixtures:

    * ``database``: a driver instance connected to a running server (or directory) that holds
      sample data;
    * ``assert_restored``: a callable ``(target: Path) -> None`` that checks a restored data
      directory holds the sample data (for servers: start a server on it and query it);
    * ``unreachable_database``: a driver of the same plugin configured for a server that is not
      running (a free loopback port). A plugin without a server (``has_server = False``) returns
      its ``database`` fixture;
    * ``bulky_database``: a driver whose server holds at least :data:`BULK` bytes of data, to
      show that a dump streams: the brs process's own allocations stay below :data:`BULK` / 2.
    """

    @pytest.fixture
    def database(self) -> Database[Any]:
        raise NotImplementedError("provide a database fixture")

    @pytest.fixture
    def assert_restored(self) -> Callable[[Path], None]:
        raise NotImplementedError("provide an assert_restored fixture")

    @pytest.fixture
    def unreachable_database(self) -> Database[Any]:
        raise NotImplementedError("provide an unreachable_database fixture")

    @pytest.fixture
    def bulky_database(self) -> Database[Any]:
        raise NotImplementedError("provide a bulky_database fixture")

    @pytest.fixture
    def dumped(self, database: Database[Any]) -> Iterator[Path]:
        """The sample database dumped into an archive file."""
        with tempfile.TemporaryDirectory(prefix="brs-contract-") as scratch:
            path = Path(scratch) / "dump.tar"
            with open(path, "wb") as sink:
                writer = ArchiveWriter(sink)
                database.dump(writer)
                writer.close()
            yield path

    def test_a_missing_or_empty_directory_needs_a_restore(self, database: Database[Any], tmp_path: Path) -> None:
        assert database.check(tmp_path / "missing").status is DataDirStatus.EMPTY
        (tmp_path / "mounted" / "lost+found").mkdir(parents=True)
        assert database.check(tmp_path / "mounted").status is DataDirStatus.EMPTY

    def test_dump_is_a_readable_archive(self, dumped: Path) -> None:
        with open(dumped, "rb") as source:
            archive = ArchiveReader(source)
            names = [entry.name for entry in archive]
        assert names, "the dump wrote nothing"

    def test_restore_builds_a_healthy_data_directory(
        self, database: Database[Any], dumped: Path, tmp_path: Path, assert_restored: Callable[[Path], None]
    ) -> None:
        target = tmp_path / "restored"
        target.mkdir(mode=0o700)
        with open(dumped, "rb") as source:
            database.restore(ArchiveReader(source), target)
        assert database.check(target).status is DataDirStatus.HEALTHY
        assert_restored(target)

    def test_restore_writes_nothing_outside_the_target(self, database: Database[Any], dumped: Path, tmp_path: Path) -> None:
        target = tmp_path / "inside" / "restored"
        target.mkdir(parents=True, mode=0o700)
        sentinel = tmp_path / "inside" / "sentinel"
        sentinel.write_text("untouched")
        before = sorted(p.name for p in (tmp_path / "inside").iterdir())
        with open(dumped, "rb") as source:
            database.restore(ArchiveReader(source), target)
        assert sorted(p.name for p in (tmp_path / "inside").iterdir()) == before
        assert sentinel.read_text() == "untouched"

    def test_restore_of_a_broken_archive_raises_a_brs_error(self, database: Database[Any], dumped: Path, tmp_path: Path) -> None:
        data = dumped.read_bytes()
        target = tmp_path / "restored"
        target.mkdir(mode=0o700)
        with pytest.raises(BrsError):
            database.restore(ArchiveReader(io.BytesIO(data[: _cut_point(data)])), target)

    def test_probe_is_true_while_the_server_runs(self, database: Database[Any]) -> None:
        assert database.probe() is True

    def test_probe_is_false_while_the_server_is_down(self, unreachable_database: Database[Any]) -> None:
        # Without a server there is nothing to wait for: the data directory is always ready.
        assert unreachable_database.probe() is (not type(unreachable_database).has_server)

    def test_a_dump_from_a_server_that_is_down_is_a_one_line_error(self, unreachable_database: Database[Any]) -> None:
        if not type(unreachable_database).has_server:
            return
        with pytest.raises(DatabaseError) as caught:
            unreachable_database.dump(ArchiveWriter(io.BytesIO()))
        assert "\n" not in str(caught.value) and str(caught.value)

    def test_a_dump_streams_in_bounded_memory(self, bulky_database: Database[Any]) -> None:
        sink = _CountingSink()
        tracemalloc.start()
        try:
            writer = ArchiveWriter(cast(BinaryIO, sink))
            bulky_database.dump(writer)
            writer.close()
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sink.size >= BULK, f"the bulky database dumped only {sink.size} bytes"
        assert peak < BULK // 2, f"the dump held {peak} bytes in memory at once"

    def test_version_and_identity_are_short_text_or_none(self, database: Database[Any]) -> None:
        version: Any = database.version()
        assert version is None or isinstance(version, str)
        identity: Any = database.identity()
        assert identity is None or (isinstance(identity, str) and 0 < len(identity) <= 255)


#: Bytes of data a ``bulky_database`` fixture holds at least.
BULK = 48 * _MiB


class _CountingSink(io.RawIOBase):
    """Counts what is written and keeps nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def _chain(error: BaseException | None) -> str:
    """The messages of an exception and of everything it was raised from."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__ or error.__context__
    return " <- ".join(messages)


def _cut_point(archive: bytes) -> int:
    """An offset in the middle of the largest member's data, so that the cut really breaks it
    (a cut in tar's zero padding would leave a valid, shorter archive)."""
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        largest = max((m for m in tar.getmembers() if m.isreg()), key=lambda m: m.size, default=None)
    if largest is None or largest.size == 0:
        return len(archive) // 2
    return largest.offset_data + largest.size // 2
