"""Stream adapters between brs's pipeline and the Blob SDK."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["BlockFiller", "DownloadReader"]


class BlockFiller:
    """Fills whole blocks from a source whose reads return pieces of any size.

    brs's pipeline hands out pieces of about 1 MiB whatever is asked for, sometimes more than
    asked; a block is complete once enough pieces were gathered, and the excess of a piece
    waits for the next block.
    """

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._leftover: memoryview = memoryview(b"")

    def fill(self, buffer: bytearray) -> int:
        """Fill ``buffer``; returns the byte count (short only at the end of the stream)."""
        size, filled = len(buffer), 0
        with memoryview(buffer) as view:
            while filled < size:
                piece = self._take(size - filled)
                if not piece:
                    break
                view[filled : filled + len(piece)] = piece
                filled += len(piece)
        return filled

    def _take(self, limit: int) -> bytes | memoryview:
        if not self._leftover:
            piece = self._source.read(limit)
            if len(piece) <= limit:
                return piece
            self._leftover = memoryview(piece)
        out, self._leftover = self._leftover[:limit], self._leftover[limit:]
        return out


class DownloadReader(io.RawIOBase):
    """A blob download as a file object; chunks of 4 MiB are fetched (and retried) as read.

    :param translate: turns an SDK failure mid-stream into the error to raise.
    """

    def __init__(self, downloader: Any, translate: Callable[[Exception], BaseException]) -> None:
        super().__init__()
        self._downloader = downloader
        self._translate = translate

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            data: bytes = self._downloader.read(-1 if size is None else size)
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
