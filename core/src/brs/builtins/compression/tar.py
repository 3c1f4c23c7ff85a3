"""``tar``: no compression, the tar stream as it is."""

from __future__ import annotations

from typing import BinaryIO, ClassVar

from brs.interfaces import Compression, Compressor

__all__ = ["PlainTar"]


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
