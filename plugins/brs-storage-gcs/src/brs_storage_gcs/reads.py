"""Reading GCS objects: ranged requests of one chunk each, read out of one buffer in place."""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any

from brs.streams import RawReader
from google.api_core import exceptions as api

if TYPE_CHECKING:
    from google.cloud import storage

__all__ = ["ChunkReader"]


class ChunkReader(RawReader):
    """Reads a blob (pinned to a generation) from ``offset`` in ranged GETs of ``chunk_size`` bytes.

    Hand-written instead of the library's ``Blob.open("rb")``: that reader joins, slices and
    re-buffers every chunk, and its growing buffers fragment the heap, so several chunks' worth
    of memory stays in use. Here every response is written into one buffer of ``chunk_size``
    bytes, allocated once and reused, which reads slice in place. The library's download
    retries each request with ``retry``, continuing within the range where a broken response
    stopped.
    """

    def __init__(self, blob: storage.Blob, chunk_size: int, retry: Any, timeout: Any, offset: int = 0) -> None:
        super().__init__()
        self._blob = blob
        self._download: dict[str, Any] = {"checksum": None, "retry": retry, "timeout": timeout}
        self._next = offset  # object offset of the next chunk
        self._buffer = _Filler(chunk_size)
        self._at = 0  # read position in the buffer
        self._ended = False

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (all that is left for -1), fewer only at the object's end, as the
        library's reader returned them."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(len(self._buffer.view)), b""))
        pieces = []
        while size > 0:
            if self._at >= self._buffer.filled:
                if self._ended:
                    break
                self._fetch()
                continue
            end = min(self._buffer.filled, self._at + size)
            pieces.append(bytes(self._buffer.view[self._at : end]))
            size -= end - self._at
            self._at = end
        return b"".join(pieces)  # one piece is returned as it is, not copied

    def _fetch(self) -> None:
        buffer = self._buffer
        buffer.filled = self._at = 0
        # Nothing to read: the offset is the object's end (or the object is empty).
        with contextlib.suppress(api.RequestRangeNotSatisfiable):
            self._blob.download_to_file(buffer, start=self._next, end=self._next + len(buffer.view) - 1, **self._download)
        self._next += buffer.filled
        self._ended = buffer.filled < len(buffer.view)

    def close(self) -> None:
        self._buffer.view.release()
        super().close()


class _Filler:
    """The file a download writes into: a fixed buffer, filled from its start.

    A response longer than the range asked for does not fit and fails the read.
    """

    def __init__(self, size: int) -> None:
        self.view = memoryview(bytearray(size))
        self.filled = 0

    def write(self, data: bytes) -> int:
        self.view[self.filled : self.filled + len(data)] = data
        self.filled += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """The library rewinds when the service sends a whole object again (transcoding)."""
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only absolute positions")
        self.filled = offset
        return offset
