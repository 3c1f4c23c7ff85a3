"""``tarzst``: zstd level 3 with a content checksum, in self-contained 1 MiB frames."""

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
    # 1 MiB frames lose 0.7 % of the ratio of one long stream (1.523 against 1.534 on the
    # bench corpus); one-shot frames of a known size compress about twice as fast as the
    # streaming API, and several threads compress frames at once.
    frame_size: ClassVar[int] = 256 << 10

    def compressor(self) -> Compressor:
        return _ZstdCompressor(self.level)

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return BoundedReader(source, "zstd", lambda: FrameCodec(zstd.ZstdDecompressor()))  # type: ignore[return-value]

    def compress_frame(self, data: bytes) -> bytes:
        return zstd.compress(data, options=_frame_options(self.level))  # type: ignore[no-any-return]


def _frame_options(level: int) -> dict[object, int]:
    return {zstd.CompressionParameter.compression_level: level, zstd.CompressionParameter.checksum_flag: 1}


class _ZstdCompressor:
    def __init__(self, level: int) -> None:
        self._c = zstd.ZstdCompressor(options=_frame_options(level))

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._c.compress(data)  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        return self._c.flush(zstd.ZstdCompressor.FLUSH_FRAME)  # type: ignore[no-any-return]
