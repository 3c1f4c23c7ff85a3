"""File-object adapters between brs's pipeline and storage client libraries."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["BufferReader", "FullReader", "RawReader", "TranslatingReader"]


class RawReader(io.RawIOBase):
    """A readable raw stream whose subclasses implement only :meth:`read`.

    :meth:`readinto` goes through :meth:`read`, so a subclass keeps its error handling (or
    resuming) in one place.
    """

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class FullReader(RawReader):
    """Gathers whole parts from a source whose reads may return less, or more, than asked.

    brs's pipeline hands out pieces of about 1 MiB whatever ``n`` is, sometimes more than asked.
    Uploads need complete parts (only the last one may be short, and some services finalize an
    object at the first short chunk), so ``read(n)`` returns exactly ``n`` bytes unless the
    source has ended, and :meth:`fill` does the same into a caller's buffer. The excess of a
    piece waits for the next read. :meth:`tell` counts the bytes handed out.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._position = 0
        self._leftover: memoryview = memoryview(b"")

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
        """At most ``limit`` bytes; the excess of a larger piece is kept for later."""
        if not self._leftover:
            piece = self._source.read(limit)
            if len(piece) <= limit:
                return piece
            self._leftover = memoryview(piece)
        out, self._leftover = self._leftover[:limit], self._leftover[limit:]
        return out


class TranslatingReader(RawReader):
    """Wraps a download stream so that a failure mid-stream surfaces as ``translate(error)``.

    ``translate`` may return the error itself, which is then re-raised unchanged. Closing the
    reader closes ``inner`` when it has a ``close`` method, ignoring failures: nothing useful
    can be done when closing a download fails.
    """

    def __init__(self, inner: Any, translate: Callable[[Exception], BaseException]) -> None:
        super().__init__()
        self._inner = inner
        self._translate = translate

    def read(self, size: int | None = -1) -> bytes:
        try:
            data: bytes = self._inner.read(-1 if size is None else size)
            return data
        except Exception as error:
            raised = self._translate(error)
            if raised is error:
                raise
            raise raised from error

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._inner, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        super().close()


class BufferReader(io.RawIOBase):
    """A seekable file over a buffer, without copying it: the body of an upload request.

    SDKs take ``bytes`` or a seekable stream, read the body more than once (for a checksum,
    for a retry) and copy a ``bytearray`` into a ``BytesIO`` (botocore, for its trailing
    checksums over TLS); a copy would add a part of memory per request in flight.
    """

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, min(len(self._view), base + offset))
        return self._position

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), len(self._view) - self._position)
        buffer[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._position + size)
        data = bytes(self._view[self._position : end])
        self._position = end
        return data
