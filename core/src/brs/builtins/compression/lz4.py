"""``tarlz4``: lz4 frames without a content checksum (the checksum halves throughput, and the
stored object is covered by SHA-256, and by AES-GCM when encrypted)."""

from __future__ import annotations

from typing import BinaryIO, ClassVar

import lz4.frame

from brs.builtins.compression.reading import BoundedReader, FrameCodec
from brs.interfaces import Compression, Compressor

__all__ = ["Lz4"]


class Lz4(Compression):
    """lz4 frames: the fastest method, moderate ratio."""

    suffix: ClassVar[str] = ".tar.lz4"
    # lz4 looks back 64 KiB, so frames of 256 KiB compress as well as one long stream (measured:
    # 1.387 against 1.389 on the bench corpus), and one-shot frames are faster than the
    # streaming API.
    frame_size: ClassVar[int] = 256 << 10

    def compressor(self) -> Compressor:
        return _Lz4Compressor()

    def decompress(self, source: BinaryIO) -> BinaryIO:
        return BoundedReader(source, "lz4", lambda: FrameCodec(lz4.frame.LZ4FrameDecompressor()))  # type: ignore[return-value]

    def compress_frame(self, data: bytes) -> bytes:
        return lz4.frame.compress(data, content_checksum=False)  # type: ignore[no-any-return]


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
