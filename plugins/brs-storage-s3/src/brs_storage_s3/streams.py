"""Stream adapters between brs's pipeline and S3 requests."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["FullReader", "ResumingReader"]


class FullReader(io.RawIOBase):
    """Gathers whole parts from a source whose reads may return less than asked.

    brs's pipeline hands out pieces of at most 1 MiB whatever ``n`` is; a part is only complete
    (and only the last one may be short) once enough pieces were gathered. ``read(n)`` returns
    exactly ``n`` bytes unless the source has ended, and :meth:`fill` does the same into a
    caller's buffer.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._position = 0
        self._leftover: memoryview = memoryview(b"")

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            pieces = []
            while piece := self._take(1 << 20):
                pieces.append(bytes(piece))
            data = b"".join(pieces)
            self._position += len(data)
            return data
        buffer = bytearray(size)
        filled = self.fill(buffer)
        del buffer[filled:]
        return bytes(buffer)

    def fill(self, buffer: bytearray) -> int:
        """Fill ``buffer`` from the source; returns the byte count (short only at the end).

        Filling a reused buffer allocates nothing per part: growing or joining buffers would
        hold two copies of a part for a moment and fragment the heap.
        """
        size = len(buffer)
        filled = 0
        with memoryview(buffer) as view:
            while filled < size:
                piece = self._take(size - filled)
                if not piece:
                    break
                view[filled : filled + len(piece)] = piece
                filled += len(piece)
        self._position += filled
        return filled

    def _take(self, limit: int) -> bytes | memoryview:
        """At most ``limit`` bytes: the source may hand out a larger piece than asked for (brs's
        pipeline returns whole pieces for large reads), and the excess is kept for later."""
        if not self._leftover:
            piece = self._source.read(limit)
            if len(piece) <= limit:
                return piece
            self._leftover = memoryview(piece)
        out, self._leftover = self._leftover[:limit], self._leftover[limit:]
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ResumingReader(io.RawIOBase):
    """A streamed GET that reopens at the current offset when the connection breaks.

    botocore retries a request until its headers arrive; a connection that drops while the body
    streams surfaces in ``read``. Reopening with ``Range: bytes=<offset>-`` (one open-ended range,
    not many small ones) continues where it stopped, at most ``attempts`` times per failure run.

    :param open_at: opens the object at a byte offset and returns its body stream.
    :param transient: the exception types that justify reopening.
    :param translate: turns any other failure (and the last transient one) into the error to raise.
    """

    def __init__(
        self,
        open_at: Callable[[int], Any],
        transient: tuple[type[BaseException], ...],
        translate: Callable[[Exception], BaseException],
        attempts: int = 3,
    ) -> None:
        super().__init__()
        self._open_at = open_at
        self._transient = transient
        self._translate = translate
        self._attempts = attempts
        self._offset = 0
        self._body = open_at(0)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._read(size)
        except Exception as error:
            raise self._translate(error) from error

    def _read(self, size: int | None) -> bytes:
        failures = 0
        while True:
            try:
                data: bytes = self._body.read(None if size is None or size < 0 else size)
                self._offset += len(data)
                return data
            except self._transient:
                failures += 1
                if failures >= self._attempts:
                    raise
                self._close_body()
                self._body = self._open_at(self._offset)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _close_body(self) -> None:
        with contextlib.suppress(Exception):  # the connection is already broken
            self._body.close()

    def close(self) -> None:
        if not self.closed:
            self._close_body()
        super().close()
