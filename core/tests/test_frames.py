"""Restores cut frame-compressed streams apart and decompress the frames on several threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from brs.builtins.compression import Lz4, Zstd
from brs.errors import BackupNotFound, IntegrityError
from brs.frames import decompressed
from brs.interfaces import NoOptions, PluginContext
from brs.pipeline import PieceReader

SIZE = Zstd.frame_size
assert Lz4.frame_size == SIZE


class _RecordsThreads:
    """Notes which threads decompressed frames (mixed into a compression method)."""

    threads: set[int]

    def decompress_frame(self, frame: bytes) -> bytes:
        self.threads.add(threading.get_ident())
        return super().decompress_frame(frame)  # type: ignore[misc, no-any-return]


class _ThreadRecordingZstd(_RecordsThreads, Zstd):
    codec = "zstd"


class _ThreadRecordingLz4(_RecordsThreads, Lz4):
    codec = "lz4"


Recording = _ThreadRecordingZstd | _ThreadRecordingLz4


@pytest.fixture(params=[_ThreadRecordingZstd, _ThreadRecordingLz4], ids=["tarzst", "tarlz4"])
def method(request: pytest.FixtureRequest) -> Recording:
    method: Recording = request.param(PluginContext(name=request.node.callspec.id, settings=NoOptions()))
    method.threads = set()
    return method


def _data(size: int) -> bytes:
    return b"".join(os.urandom(512) + b"tar stream " * 300 for _ in range(size // 3812 + 1))[:size]


def _frames(method: Zstd | Lz4, data: bytes, size: int = SIZE) -> bytes:
    return b"".join(method.compress_frame(data[i : i + size]) for i in range(0, len(data), size))


def _flipped(stored: bytes, at: int) -> bytes:
    return stored[:at] + bytes([stored[at] ^ 0xFF]) + stored[at + 1 :]


def _flipped_in_a_middle_frame(stored: bytes) -> bytes:
    """A flipped byte in zstd's content (its frame checksum finds it), or in an lz4 frame's
    header: lz4 frames carry no checksum (the stored object's digest and AES-GCM cover them)."""
    if stored.startswith(_LZ4_MAGIC):
        return _flipped(stored, stored.index(_LZ4_MAGIC, len(stored) // 2) + 4)
    return _flipped(stored, len(stored) // 2)


_LZ4_MAGIC = b"\x04\x22\x4d\x18"


def _restore(method: Zstd | Lz4, stored: bytes, piece: int = 100_000, workers: int = 2) -> bytes:
    pieces = (stored[i : i + piece] for i in range(0, len(stored), piece))
    return b"".join(decompressed(PieceReader(pieces), method, workers))


def test_frames_are_decompressed_on_several_threads_in_order(method: Recording) -> None:
    data = _data(40 * SIZE + 123)
    assert _restore(method, _frames(method, data)) == data
    assert len(method.threads) == 2 and threading.get_ident() not in method.threads


@pytest.mark.parametrize("piece", [1, 4096, SIZE - 1, SIZE + 1, 3 * SIZE])
def test_any_piece_size_of_the_source_gives_the_same_stream(method: Recording, piece: int) -> None:
    data = _data(6 * SIZE + 5)
    assert _restore(method, _frames(method, data), piece=piece) == data


def test_streams_that_cannot_be_cut_restore_through_the_streaming_decompressor(method: Recording) -> None:
    # One long stream (the streaming compressor) and the 1 MiB frames of earlier versions.
    data = _data(5 * SIZE)
    compressor = method.compressor()
    assert _restore(method, compressor.compress(data) + compressor.flush()) == data
    assert _restore(method, _frames(method, data, size=4 * SIZE)) == data
    assert not method.threads


def test_frames_before_a_stretch_that_cannot_be_cut_are_decompressed_and_the_rest_streamed(
    method: Recording,
) -> None:
    head, big, tail = _data(5 * SIZE), _data(3 * SIZE), _data(2 * SIZE + 9)
    stored = _frames(method, head) + _frames(method, big, size=3 * SIZE) + _frames(method, tail)
    assert _restore(method, stored) == head + big + tail
    assert method.threads


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda stored: b"", "stream is empty"),
        (lambda stored: stored[:-100], "stream is truncated"),
        (lambda stored: _flipped_in_a_middle_frame(stored), "corrupt"),
        (lambda stored: stored + b"trailing garbage" * 10, "corrupt"),
    ],
    ids=["empty", "truncated", "flipped byte", "trailing garbage"],
)
def test_damage_is_an_integrity_error_and_the_frame_threads_end(method: Recording, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    stored = damage(_frames(method, _data(8 * SIZE)))
    with pytest.raises(IntegrityError, match=f"{method.codec} {message}" if message != "corrupt" else message):
        _restore(method, stored)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("brs-frame")]


def test_an_error_of_the_source_surfaces_as_itself(method: Recording) -> None:
    stored = _frames(method, _data(8 * SIZE))
    gone = BackupNotFound("object 20261126T000000Z-000000.tar.zst is gone")

    def pieces() -> Iterator[bytes]:
        yield stored[: len(stored) // 2]
        raise gone

    with pytest.raises(BackupNotFound) as raised:
        b"".join(decompressed(PieceReader(pieces()), method, 2))
    assert raised.value is gone


def test_a_frame_holding_more_than_its_header_says_is_refused(method: Recording) -> None:
    # A hostile frame may claim a small size: the output stops one byte beyond frame_size.
    compressor = method.compressor()
    unsized = compressor.compress(bytes(4 * SIZE)) + compressor.flush()
    with pytest.raises(IntegrityError, match=f"{method.codec} stream is corrupt"):
        method.decompress_frame(unsized)
