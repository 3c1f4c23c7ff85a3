"""Decompressing a restore's frame-compressed stream on several threads.

A tarlz4 or tarzst object is a series of self-contained frames (``Compression.compress_frame``),
compressed on several threads during the backup. One thread decompressing all of them bounded
restores on fast machines (py-spy: half of the fetch thread's time was zstd), so the frames are
cut apart here by their headers (``Compression.frame_length``) and decompressed on the backup's
frame threads (:func:`brs.pipeline.ordered_map`), in order. A stream, or the rest of one, that
the compression cannot cut (frames of an older size, one long stream, damage) goes through its
streaming decompressor, which also reports damage as it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import BinaryIO, cast

from brs.errors import IntegrityError
from brs.interfaces import Compression
from brs.pipeline import CHUNK, PieceReader, ordered_map

__all__ = ["decompressed"]


def decompressed(source: PieceReader, compression: Compression, workers: int) -> Iterator[bytes]:
    """The plain stream of ``source`` in pieces, frames decompressed on ``workers`` threads."""
    if workers > 1 and compression.frame_size and type(compression).frame_length is not Compression.frame_length:
        frames = _Frames(source, compression)
        yield from ordered_map(lambda frame: _decompress(compression, frame), frames, workers)
        if frames.rest is None:
            return
        source = frames.rest
    reader = compression.decompress(cast(BinaryIO, source))
    while piece := reader.read(CHUNK):
        yield piece


class _Frames:
    """The complete frames at the front of a stream; :attr:`rest` reads what could not be cut."""

    def __init__(self, source: PieceReader, compression: Compression) -> None:
        self._source = source
        self._length = compression.frame_length
        # How much is read before giving up on finding a frame: a frame of frame_size bytes that
        # did not compress, with room for the codec's headers.
        self._limit = compression.frame_size + (compression.frame_size >> 3) + 4096
        #: The stream from the first byte that was not cut into a frame (None: all were).
        self.rest: PieceReader | None = None

    def __iter__(self) -> Iterator[bytes]:
        buffer, cut = bytearray(), False
        while True:
            length = self._length(buffer) if buffer else None
            if length is not None and 0 < length <= len(buffer):
                with memoryview(buffer) as view:  # one copy (a slice of the bytearray would be two)
                    frame = bytes(view[:length])
                del buffer[:length]
                cut = True
                yield frame
                continue
            if len(buffer) >= self._limit:
                break
            piece = self._source.read_piece()
            if not piece:
                break
            buffer += piece
        if buffer or not cut:  # an empty stream too: the streaming decompressor says so
            rest = iter(self._source.read_piece, b"")
            self.rest = PieceReader(chain([bytes(buffer)], rest))


def _decompress(compression: Compression, frame: bytes) -> bytes:
    try:
        return compression.decompress_frame(frame)
    except IntegrityError:
        raise
    except Exception as error:
        raise IntegrityError(f"compressed stream is corrupt: {error}") from error
