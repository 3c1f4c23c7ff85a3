"""The built-in compression methods: ``tar``, ``targz``, ``tarlz4`` and ``tarzst``.

Measured facts behind the choices (2-core machine, see docs/performance.md):

* gzip goes through ISA-L (python-isal): standard gzip output, about 10x faster than zlib level 1
  and not pathological on incompressible data.
* lz4 frames without a content checksum: the checksum halves throughput, and the stored object
  is covered by SHA-256 (and by AES-GCM when encrypted).
* zstd level 3 with a content checksum, single-threaded (threads cost memory and lose on
  incompressible data when the other stages already use both cores).

Every decompressing reader bounds its output per ``read(n)`` call, so a highly compressible
backup cannot blow up memory.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO, ClassVar, Protocol

import lz4.frame
from isal import isal_zlib

try:  # the standard library's zstd (Python >= 3.14), else its backport
    from compression import zstd
except ImportError:  # pragma: no cover - depends on the Python version
    from backports import zstd

from brs.errors import IntegrityError
from brs.interfaces import Compression, Compressor

__all__ = ["Gzip", "Lz4", "PlainTar", "Zstd"]

_READ = 1 << 16  # compressed input per decompress() call: bounds the work per read


class _Codec(Protocol):
    """One frame's decompressor, adapted to a common shape."""

    eof: bool

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused(self) -> bytes: ...

    def feed(self, data: bytes, max_length: int) -> bytes: ...


class _GzipCodec:
    def __init__(self) -> None:
        self._d = isal_zlib.decompressobj(wbits=31)
        self._tail = b""
        self.eof = False

    @property
    def needs_input(self) -> bool:
        return not self._tail

    @property
    def unused(self) -> bytes:
        return bytes(self._d.unused_data)

    def feed(self, data: bytes, max_length: int) -> bytes:
        out: bytes = self._d.decompress(self._tail or data, max_length)
        self._tail = bytes(self._d.unconsumed_tail)
        self.eof = bool(self._d.eof)
        return out


class _Lz4Codec:
    def __init__(self) -> None:
        self._d = lz4.frame.LZ4FrameDecompressor()
        self.eof = False

    @property
    def needs_input(self) -> bool:
        return bool(self._d.needs_input)

    @property
    def unused(self) -> bytes:
        return bytes(self._d.unused_data or b"")

    def feed(self, data: bytes, max_length: int) -> bytes:
        out: bytes = self._d.decompress(data, max_length=max_length)
        self.eof = bool(self._d.eof)
        return out


class _ZstdCodec:
    def __init__(self) -> None:
        self._d = zstd.ZstdDecompressor()
        self.eof = False

    @property
    def needs_input(self) -> bool:
        return bool(self._d.needs_input)

    @property
    def unused(self) -> bytes:
        return bytes(self._d.unused_data)

    def feed(self, data: bytes, max_length: int) -> bytes:
        out: bytes = self._d.decompress(data, max_length=max_length)
        self.eof = bool(self._d.eof)
        return out


class _BoundedReader(io.RawIOBase):
    """A reader over a stream of (possibly concatenated) frames; ``read(n)`` yields <= n bytes."""

    def __init__(self, source: BinaryIO, method: str, codec: type[_GzipCodec] | type[_Lz4Codec] | type[_ZstdCodec]) -> None:
        super().__init__()
        self._source = source
        self._method = method
        self._new_codec = codec
        self._codec: _Codec = codec()
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
        """The output of one codec call (at most ``size`` bytes; empty at the end)."""
        try:
            while not self._finished:
                if self._codec.eof:
                    data = self._codec.unused or self._source.read(_READ)
                    if not data:
                        self._finished = True
                        break
                    self._codec = self._new_codec()  # another frame follows
                elif self._codec.needs_input:
                    data = self._source.read(_READ)
                    if not data:
                        state = "empty" if not self._started else "truncated"
                        raise IntegrityError(f"{self._method} stream is {state}")
                    self._started = True
                else:
                    data = b""
                out = self._codec.feed(data, size)
                if out:
                    return out
        except IntegrityError:
            raise
        except Exception as error:
            raise IntegrityError(f"{self._method} stream is corrupt: {error}") from error
        return b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Identity:
    def compress(self, data: bytes | memoryview) -> bytes:
        return bytes(data) if isinstance(data, memoryview) else data

    def flush(self) -> bytes:
        return b""


class PlainTar(Compression):
    """No compression: the tar stream as it is."""

    suffix: ClassVar[str] = ".tar"

    def compressor(self) -> Compressor:
        return _Identity()

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return source


class Gzip(Compression):
    """gzip (level 1 through ISA-L): readable by every tool, fast enough on two cores."""

    suffix: ClassVar[str] = ".tar.gz"

    def compressor(self) -> Compressor:
        return isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return _BoundedReader(source, "gzip", _GzipCodec)  # type: ignore[return-value]


class Lz4(Compression):
    """lz4 frames: the fastest method, moderate ratio."""

    suffix: ClassVar[str] = ".tar.lz4"

    def compressor(self) -> Compressor:
        return _Lz4Compressor()

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return _BoundedReader(source, "lz4", _Lz4Codec)  # type: ignore[return-value]


class _Lz4Compressor:
    def __init__(self) -> None:
        # Default 64 KiB linked blocks: 4 MiB blocks were slower and cost ~45 MiB of peak RSS
        # (each compress() call sizes its output for a whole block).
        self._c = lz4.frame.LZ4FrameCompressor(content_checksum=False)
        self._started = False

    def compress(self, data: bytes | memoryview) -> bytes:
        head = b""
        if not self._started:
            head = self._c.begin()
            self._started = True
        return head + self._c.compress(data)  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        head = b"" if self._started else self._c.begin()
        self._started = True
        return head + self._c.flush()  # type: ignore[no-any-return]


class Zstd(Compression):
    """zstd level 3: the best ratio at a still high speed."""

    suffix: ClassVar[str] = ".tar.zst"
    level: ClassVar[int] = 3

    def compressor(self) -> Compressor:
        return _ZstdCompressor(self.level)

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return _BoundedReader(source, "zstd", _ZstdCodec)  # type: ignore[return-value]


class _ZstdCompressor:
    def __init__(self, level: int) -> None:
        options = {zstd.CompressionParameter.compression_level: level, zstd.CompressionParameter.checksum_flag: 1}
        self._c = zstd.ZstdCompressor(options=options)

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._c.compress(data)  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        return self._c.flush(zstd.ZstdCompressor.FLUSH_FRAME)  # type: ignore[no-any-return]
