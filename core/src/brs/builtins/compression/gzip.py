"""``targz``: gzip level 1 through ISA-L (python-isal): standard gzip output, about 10x faster
than zlib level 1 and not pathological on incompressible data."""

from __future__ import annotations

from typing import BinaryIO, ClassVar

from isal import isal_zlib

from brs.builtins.compression.reading import BoundedReader
from brs.interfaces import Compression, Compressor

__all__ = ["Gzip"]


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


class Gzip(Compression):
    """gzip (level 1 through ISA-L): readable by every tool, fast enough on two cores."""

    suffix: ClassVar[str] = ".tar.gz"
    # Concatenated gzip members are one valid gzip stream (RFC 1952, section 2.2); deflate looks
    # back 32 KiB, so 256 KiB members cost next to nothing in ratio.
    frame_size: ClassVar[int] = 256 << 10

    def compressor(self) -> Compressor:
        return isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return BoundedReader(source, "gzip", _GzipCodec)  # type: ignore[return-value]

    def compress_frame(self, data: bytes) -> bytes:
        return isal_zlib.compress(data, 1, 31)
