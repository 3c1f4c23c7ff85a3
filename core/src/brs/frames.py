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
    """The complete frames at the front of a stream; :attr:`rest` reads what could not be cut.

    Frames that lie inside one piece are handed on as memoryviews of it; only a frame that two
    pieces share is copied, and only up to its end (copying every piece into one growing
    buffer, and each frame out of it, held the interpreter's lock for a sixth of a tarlz4
    restore's fetch thread).
    """

    def __init__(self, source: PieceReader, compression: Compression) -> None:
        self._source = source
        self._length = compression.frame_length
        # How much is read before giving up on finding a frame: a frame of frame_size bytes that
        # did not compress, with room for the codec's headers.
        self._limit = compression.frame_size + (compression.frame_size >> 3) + 4096
        #: The stream from the first byte that was not cut into a frame (None: all were).
        self.rest: PieceReader | None = None

    def __iter__(self) -> Iterator[bytes | memoryview]:
        carried = bytearray()  # the start of a frame that the pieces so far cut off
        view, cut = memoryview(b""), False
        while piece := self._source.read_piece():
            view = memoryview(piece)
            if carried:
                # Complete the shared frame: add no more than the largest frame can hold.
                had = len(carried)
                carried += view[: self._limit - had]
                length = self._length(carried)
                if length is None or not had < length <= len(carried):
                    if len(carried) >= self._limit:
                        view = view[len(carried) - had :]
                        break
                    view = memoryview(b"")
                    continue  # the piece was shorter than the frame: wait for the next
                with memoryview(carried) as whole:
                    frame = bytes(whole[:length])
                view = view[length - had :]
                carried = bytearray()
                cut = True
                yield frame
            while view and (length := self._length(view)) is not None and 0 < length <= len(view):
                cut = True
                yield view[:length]
                view = view[length:]
            if view:
                carried += view  # the start of the next frame (at most one piece)
                view = memoryview(b"")
                if len(carried) >= self._limit:
                    break
        if carried or view or not cut:  # an empty stream too: the streaming decompressor says so
            rest = iter(self._source.read_piece, b"")
            self.rest = PieceReader(chain([bytes(carried) + bytes(view)], rest))


def _decompress(compression: Compression, frame: bytes | memoryview) -> bytes:
    try:
        return compression.decompress_frame(frame)
    except IntegrityError:
        raise
    except Exception as error:
        raise IntegrityError(f"compressed stream is corrupt: {error}") from error
