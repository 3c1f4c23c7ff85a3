"""A streamed block upload with a fixed memory budget that commits only a complete stream.

Azure shows a block blob once its block list is committed. Blocks staged by an upload that
fails or is killed stay uncommitted: invisible to listings and discarded by the service after
a week. So the commit is the single atomic step, done after the source reached its end.
"""

from __future__ import annotations

import base64
import io
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from azure.core import MatchConditions
from azure.storage.blob import BlobBlock
from brs.buffers import BufferPool, Filler

__all__ = ["MAX_BLOCKS", "BlockUpload", "block_size_for"]

MAX_BLOCKS = 50_000
#: The block size doubles after every this many blocks: 8 MiB blocks cover the first 78 GiB,
#: and the sizes that follow reach several TiB within Azure's 50 000 blocks.
BLOCKS_PER_STEP = 10_000


def block_size_for(number: int, base: int) -> int:
    """Size of block ``number`` (1-based) when blocks start at ``base`` bytes."""
    return base << min((number - 1) // BLOCKS_PER_STEP, 8)


def block_id(number: int) -> str:
    """Block IDs of one blob must all have the same length."""
    return base64.b64encode(f"brs-{number:08d}".encode()).decode()


class BlockUpload:
    """Stages the stream as blocks (``concurrency`` at a time) and commits them at its end.

    :param blob: an ``azure.storage.blob.BlobClient``.
    :param fill: fills a buffer from the stream, see :data:`brs.buffers.Filler`.
    """

    def __init__(self, blob: Any, fill: Filler, block_size: int, concurrency: int = 2) -> None:
        self.blob = blob
        self._fill = fill
        self.block_size = block_size
        self.concurrency = concurrency
        self.size = 0
        self._buffers = BufferPool(concurrency + 1)

    def run(self) -> int:
        """Upload the stream; returns its size. On any failure nothing is committed."""
        futures: list[Future[str]] = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="brs-azure-block") as pool:
            try:
                number = 1
                while True:
                    buffer = self._buffers.take(block_size_for(number, self.block_size))
                    filled = self._fill(buffer)
                    if not filled:
                        self._buffers.give(buffer)
                        break
                    if number > MAX_BLOCKS:
                        raise ValueError(f"the backup needs more than {MAX_BLOCKS} blocks; raise --azure-block-size-mib")
                    failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                    if failed is not None:
                        failed.result()  # raises the block's error
                    self.size += filled
                    futures.append(pool.submit(self._stage, number, buffer, filled))
                    number += 1
                ids = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        # If-None-Match: * — a backup never replaces an object of the same name.
        self.blob.commit_block_list([BlobBlock(block_id=i) for i in ids], match_condition=MatchConditions.IfMissing)
        return self.size

    def _stage(self, number: int, buffer: bytearray, filled: int) -> str:
        identifier = block_id(number)
        try:
            # Only the last block is shorter than its buffer; shrinking in place copies nothing.
            del buffer[filled:]
            with memoryview(buffer) as view:
                self.blob.stage_block(identifier, _BufferReader(view), length=filled, validate_content=True)
        finally:
            self._buffers.give(buffer)
        return identifier


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
