"""``tarzst``: zstd level 3 with a content checksum, single-threaded (threads cost memory and
lose on incompressible data when the other stages already use both cores)."""

from __future__ import annotations

from typing import BinaryIO, ClassVar

try:  # the standard library's zstd (Python >= 3.14), else its backport
    from compression import zstd
except ImportError:  # pragma: no cover - depends on the Python version
    from backports import zstd

from brs.builtins.compression.reading import BoundedReader, FrameCodec
from brs.interfaces import Compression, Compressor

__all__ = ["Zstd"]


class Zstd(Compression):
    """zstd level 3: the best ratio at a still high speed."""

    suffix: ClassVar[str] = ".tar.zst"
    level: ClassVar[int] = 3

    def compressor(self) -> Compressor:
        return _ZstdCompressor(self.level)

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return BoundedReader(source, "zstd", lambda: FrameCodec(zstd.ZstdDecompressor()))  # type: ignore[return-value]


class _ZstdCompressor:
    def __init__(self, level: int) -> None:
        options = {zstd.CompressionParameter.compression_level: level, zstd.CompressionParameter.checksum_flag: 1}
        self._c = zstd.ZstdCompressor(options=options)

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._c.compress(data)  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        return self._c.flush(zstd.ZstdCompressor.FLUSH_FRAME)  # type: ignore[no-any-return]
