"""Stream adapters between brs's pipeline and the GCS client library."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["FullReader", "TranslatingReader"]


class FullReader(io.RawIOBase):
    """Makes ``read(n)`` return exactly ``n`` bytes unless the source has ended, and counts.

    brs's pipeline hands out pieces of at most 1 MiB whatever ``n`` is, but a resumable upload
    takes a chunk shorter than its chunk size for the last one and finalizes the object: a
    short read would commit a truncated backup.
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
        pieces: list[bytes] = []
        missing = -1 if size is None or size < 0 else size
        while missing != 0:
            piece = self._take(1 << 20 if missing < 0 else missing)
            if not piece:
                break
            pieces.append(bytes(piece))
            if missing > 0:
                missing -= len(piece)
        data = b"".join(pieces)
        self._position += len(data)
        return data

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


class TranslatingReader(io.RawIOBase):
    """Wraps a download stream so that a failure mid-stream surfaces as ``translate(error)``."""

    def __init__(self, inner: Any, translate: Callable[[Exception], BaseException]) -> None:
        super().__init__()
        self._inner = inner
        self._translate = translate

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            data: bytes = self._inner.read(-1 if size is None else size)
            return data
        except Exception as error:
            raised = self._translate(error)
            if raised is error:
                raise
            raise raised from error

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            # Nothing useful can be done when closing a download fails.
            with contextlib.suppress(Exception):
                self._inner.close()
        super().close()
