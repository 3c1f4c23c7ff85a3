"""Stream adapters between brs's pipeline and boto3."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["FullReader", "ResumingReader"]


class FullReader(io.RawIOBase):
    """Makes ``read(n)`` return exactly ``n`` bytes unless the source has ended.

    brs's pipeline hands out pieces of at most 1 MiB whatever ``n`` is. s3transfer decides
    between a single PUT and a multipart upload, and sizes parts, from the length of one
    ``read``: a short read would upload a tiny first part (refused by S3) or, worse, look like
    the end of the stream.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._position = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            pieces = []
            while piece := self._source.read(1 << 20):
                pieces.append(piece)
            data = b"".join(pieces)
        else:
            pieces, missing = [], size
            while missing > 0 and (piece := self._source.read(missing)):
                pieces.append(piece)
                missing -= len(piece)
            data = b"".join(pieces)
        self._position += len(data)
        return data

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
        try:
            self._body.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass

    def close(self) -> None:
        if not self.closed:
            self._close_body()
        super().close()
