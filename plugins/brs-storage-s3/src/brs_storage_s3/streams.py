"""Reading S3 objects: a streamed GET that survives a broken connection."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from brs.streams import RawReader

__all__ = ["ResumingReader"]


class ResumingReader(RawReader):
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

    def _close_body(self) -> None:
        with contextlib.suppress(Exception):  # the connection is already broken
            self._body.close()

    def close(self) -> None:
        if not self.closed:
            self._close_body()
        super().close()
