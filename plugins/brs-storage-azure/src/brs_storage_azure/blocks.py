"""Azure's side of a bounded parted upload (:mod:`brs.kit.uploads`): blocks committed at the end.

Azure shows a block blob once its block list is committed. Blocks staged by an upload that
fails or is killed stay uncommitted: invisible to listings and discarded by the service after
a week. So the commit is the single atomic step, done after the source reached its end.
"""

from __future__ import annotations

import base64
from typing import Any, BinaryIO

from azure.core import MatchConditions
from azure.storage.blob import BlobBlock
from brs.kit.uploads import PartedUpload
from brs.streams import BufferReader

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
            self.blob.stage_block(identifier, BufferReader(view), length=len(part), validate_content=True)
        return identifier

    def commit(self, parts: list[str]) -> None:
        # If-None-Match: * - a backup never replaces an object of the same name.
        self.blob.commit_block_list([BlobBlock(block_id=i) for i in parts], match_condition=MatchConditions.IfMissing)
