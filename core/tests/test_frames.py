"""Restores cut frame-compressed streams apart and decompress the frames on several threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from brs.builtins.compression import Zstd
from brs.errors import BackupNotFound, IntegrityError
from brs.frames import decompressed
from brs.interfaces import NoOptions, PluginContext
from brs.pipeline import PieceReader

SIZE = Zstd.frame_size


class _ThreadRecordingZstd(Zstd):
    """Zstd that notes which threads decompressed frames."""

    threads: set[int]

    def decompress_frame(self, frame: bytes) -> bytes:
        self.threads.add(threading.get_ident())
        return super().decompress_frame(frame)


@pytest.fixture
def zstd() -> _ThreadRecordingZstd:
    method = _ThreadRecordingZstd(PluginContext(name="tarzst", settings=NoOptions()))
    method.threads = set()
    return method


def _data(size: int) -> bytes:
    return b"".join(os.urandom(512) + b"tar stream " * 300 for _ in range(size // 3812 + 1))[:size]


def _frames(method: Zstd, data: bytes, size: int = SIZE) -> bytes:
    return b"".join(method.compress_frame(data[i : i + size]) for i in range(0, len(data), size))


def _flipped(stored: bytes, at: int) -> bytes:
    return stored[:at] + bytes([stored[at] ^ 0xFF]) + stored[at + 1 :]


def _restore(method: Zstd, stored: bytes, piece: int = 100_000, workers: int = 2) -> bytes:
    pieces = (stored[i : i + piece] for i in range(0, len(stored), piece))
    return b"".join(decompressed(PieceReader(pieces), method, workers))


def test_frames_are_decompressed_on_several_threads_in_order(zstd: _ThreadRecordingZstd) -> None:
    data = _data(40 * SIZE + 123)
    assert _restore(zstd, _frames(zstd, data)) == data
    assert len(zstd.threads) == 2 and threading.get_ident() not in zstd.threads


@pytest.mark.parametrize("piece", [1, 4096, 3 * SIZE])
def test_any_piece_size_of_the_source_gives_the_same_stream(zstd: _ThreadRecordingZstd, piece: int) -> None:
    data = _data(6 * SIZE + 5)
    assert _restore(zstd, _frames(zstd, data), piece=piece) == data


def test_streams_that_cannot_be_cut_restore_through_the_streaming_decompressor(zstd: _ThreadRecordingZstd) -> None:
    # One long stream (the streaming compressor) and the 1 MiB frames of earlier versions.
    data = _data(5 * SIZE)
    compressor = zstd.compressor()
    assert _restore(zstd, compressor.compress(data) + compressor.flush()) == data
    assert _restore(zstd, _frames(zstd, data, size=4 * SIZE)) == data
    assert not zstd.threads


def test_frames_before_a_stretch_that_cannot_be_cut_are_decompressed_and_the_rest_streamed(
    zstd: _ThreadRecordingZstd,
) -> None:
    head, big, tail = _data(5 * SIZE), _data(3 * SIZE), _data(2 * SIZE + 9)
    stored = _frames(zstd, head) + _frames(zstd, big, size=3 * SIZE) + _frames(zstd, tail)
    assert _restore(zstd, stored) == head + big + tail
    assert zstd.threads


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda stored: b"", "zstd stream is empty"),
        (lambda stored: stored[:-100], "zstd stream is truncated"),
        (lambda stored: _flipped(stored, len(stored) // 2), "corrupt"),
        (lambda stored: stored + b"trailing garbage" * 10, "corrupt"),
    ],
    ids=["empty", "truncated", "flipped byte", "trailing garbage"],
)
def test_damage_is_an_integrity_error_and_the_frame_threads_end(zstd: _ThreadRecordingZstd, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    stored = damage(_frames(zstd, _data(8 * SIZE)))
    with pytest.raises(IntegrityError, match=message):
        _restore(zstd, stored)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("brs-frame")]


def test_an_error_of_the_source_surfaces_as_itself(zstd: _ThreadRecordingZstd) -> None:
    stored = _frames(zstd, _data(8 * SIZE))
    gone = BackupNotFound("object 20261126T000000Z-000000.tar.zst is gone")

    def pieces() -> Iterator[bytes]:
        yield stored[: len(stored) // 2]
        raise gone

    with pytest.raises(BackupNotFound) as raised:
        b"".join(decompressed(PieceReader(pieces()), zstd, 2))
    assert raised.value is gone


def test_a_frame_holding_more_than_its_header_says_is_refused(zstd: _ThreadRecordingZstd) -> None:
    # A hostile frame may claim a small size: the output stops one byte beyond frame_size.
    compressor = zstd.compressor()
    unsized = compressor.compress(bytes(4 * SIZE)) + compressor.flush()
    with pytest.raises(IntegrityError, match="zstd stream is corrupt"):
        zstd.decompress_frame(unsized)
