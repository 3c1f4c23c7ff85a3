"""Azure's side of a bounded parted upload (:mod:`brs.kit.uploads`): blocks committed at the end.

Azure shows a block blob once its block list is committed. Blocks staged by an upload that
fails or is killed stay uncommitted: invisible to listings and discarded by the service after
a week. So the commit is the single atomic step, done after the source reached its end.
"""

from __future__ import annotations

import base64
import io
from typing import Any, BinaryIO

from azure.core import MatchConditions
from azure.storage.blob import BlobBlock
from brs.kit.uploads import PartedUpload

__all__ = ["BlockUpload", "block_id"]


def block_id(number: int) -> str:
    """Block IDs of one blob must all have the same length."""
    return base64.b64encode(f"brs-{number:08d}".encode()).decode()


class BlockUpload(PartedUpload[str]):
    """Stages ``source`` as blocks of ``blob`` (an ``azure.storage.blob.BlobClient``) and commits them at its end."""

    max_parts = 50_000
    #: Default 4 MiB blocks cover the first 19.5 GiB, and the sizes that follow (up to 1 GiB)
    #: reach about 15 TiB within Azure's 50 000 blocks.
    parts_per_step = 5_000
    size_option = "--azure-block-size-mib"

    def __init__(self, blob: Any, source: BinaryIO, block_size: int, concurrency: int = 2) -> None:
        super().__init__(source, block_size, concurrency)
        self.blob = blob

    def send(self, number: int, part: bytearray) -> str:
        identifier = block_id(number)
        with memoryview(part) as view:
            self.blob.stage_block(identifier, _BufferReader(view), length=len(part), validate_content=True)
        return identifier

    def commit(self, parts: list[str]) -> None:
        # If-None-Match: * - a backup never replaces an object of the same name.
        self.blob.commit_block_list([BlobBlock(block_id=i) for i in parts], match_condition=MatchConditions.IfMissing)


class _BufferReader(io.RawIOBase):
    """A seekable file over a buffer, without copying it.

    The SDK takes ``bytes`` or a seekable stream (it reads the block once for its MD5 and once
    to send it); a ``bytes`` copy would add a block of memory per request in flight.
    """

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, min(len(self._view), base + offset))
        return self._position

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), len(self._view) - self._position)
        buffer[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._position + size)
        data = bytes(self._view[self._position : end])
        self._position = end
        return data
