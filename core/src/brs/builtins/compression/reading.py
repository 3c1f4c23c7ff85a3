"""Decompressing readers that bound their output per ``read(n)``, shared by the codecs."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol, TypeVar

from brs.errors import IntegrityError

__all__ = ["BoundedReader", "Codec", "FrameCodec"]

_READ = 1 << 16  # compressed input per decompress() call: bounds the work per read
_T = TypeVar("_T")


class Codec(Protocol):
    """One frame's decompressor, adapted to a common shape."""

    eof: bool

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused(self) -> bytes: ...

    def feed(self, data: bytes, max_length: int) -> bytes: ...


class FrameCodec:
    """A :class:`Codec` over a decompressor with the API that lz4 and zstd share
    (``decompress(data, max_length)``, ``needs_input``, ``unused_data``, ``eof``)."""

    def __init__(self, decompressor: Any) -> None:
        self._d = decompressor
        self.eof = False

    @property
    def needs_input(self) -> bool:
        return bool(self._d.needs_input)

    @property
    def unused(self) -> bytes:
        return bytes(self._d.unused_data or b"")  # lz4 says None where zstd says b""

    def feed(self, data: bytes, max_length: int) -> bytes:
        out: bytes = self._d.decompress(data, max_length=max_length)
        self.eof = bool(self._d.eof)
        return out


class BoundedReader(io.RawIOBase):
    """A reader over a stream of (possibly concatenated) frames; ``read(n)`` yields <= n bytes."""

    def __init__(self, source: BinaryIO, method: str, codec: Callable[[], Codec]) -> None:
        super().__init__()
        self._source = source
        self._method = method
        self._new_codec = codec
        self._codec: Codec = codec()
        self._started = False
        self._finished = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decompressed bytes; fewer only at the end of the stream.

        One codec call yields ~64 KiB of input's worth; filling the request from several calls
        hands the next stage ~1 MiB pieces instead of ~100 KiB ones, so the restore pipeline's
        threads switch about ten times less often.
        """
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        first = self._read_once(size)
        if len(first) >= size or not first:
            return first
        pieces, filled = [first], len(first)
        while filled < size and (piece := self._read_once(size - filled)):
            pieces.append(piece)
            filled += len(piece)
        return b"".join(pieces)

    def _read_once(self, size: int) -> bytes:
        """The output of one codec call (at most ``size`` bytes; empty at the end).

        Only the codec's own errors mean a corrupt stream; the source's (a missing object, a
        failed decryption, a storage error) pass through as they are.
        """
        while not self._finished:
            if self._codec.eof:
                data = self._codec.unused or self._source.read(_READ)
                if not data:
                    self._finished = True
                    break
                self._codec = self._decoding(self._new_codec)  # another frame follows
            elif self._codec.needs_input:
                data = self._source.read(_READ)
                if not data:
                    state = "empty" if not self._started else "truncated"
                    raise IntegrityError(f"{self._method} stream is {state}")
                self._started = True
            else:
                data = b""
            out = self._decoding(functools.partial(self._codec.feed, data, size))
            if out:
                return out
        return b""

    def _decoding(self, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except IntegrityError:
            raise
        except Exception as error:
            raise IntegrityError(f"{self._method} stream is corrupt: {error}") from error

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
