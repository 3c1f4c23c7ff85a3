"""A streamed multipart upload with a fixed memory budget and an abort on any failure.

s3transfer buffers more parts than its settings suggest for a non-seekable stream (measured:
about five parts for two threads), allocates a fresh buffer per part (which fragments the heap)
and has one part size for the whole object, which caps an object at 10 000 parts. This module
reuses ``concurrency + 1`` part buffers, and grows the part size as the object grows, so
small databases use small parts and a terabyte still fits in 10 000 parts.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from brs.buffers import BufferPool, Filler

__all__ = ["MAX_PARTS", "MultipartUpload", "part_size_for"]

MAX_PARTS = 10_000
#: The part size doubles after every this many parts: 16 MiB parts cover the first 31 GiB,
#: and the five steps up to 256 MiB parts reach about 1 TiB within S3's 10 000 parts.
PARTS_PER_STEP = 2_000


def part_size_for(number: int, base: int) -> int:
    """Size of part ``number`` (1-based) when parts start at ``base`` bytes."""
    return base << min((number - 1) // PARTS_PER_STEP, 8)


class MultipartUpload:
    """Uploads everything ``fill`` provides as one object, atomically.

    :param client: a boto3 S3 client (its retry configuration applies to every request).
    :param fill: fills a buffer from the stream, see :data:`brs.buffers.Filler`.
    :param checksum: ``"CRC32"`` to send and record per-part checksums, or ``None``.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        fill: Filler,
        part_size: int,
        concurrency: int = 2,
        checksum: str | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self._fill = fill
        self.part_size = part_size
        self.concurrency = concurrency
        self.checksum = checksum
        self.size = 0
        self._buffers = BufferPool(concurrency + 1)

    def run(self) -> int:
        """Upload the stream; returns its size. On any failure nothing becomes visible."""
        first = self._buffers.take(self.part_size)
        filled = self._fill(first)
        self.size = filled
        if filled < self.part_size:
            # Small enough for one PUT, which S3 applies atomically.
            del first[filled:]
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=first, **self._algorithm())
            return self.size
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self._algorithm())["UploadId"]
        try:
            parts = self._upload_parts(upload_id, first)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort(upload_id)
            raise
        return self.size

    def _upload_parts(self, upload_id: str, first: bytearray) -> list[dict[str, Any]]:
        futures: list[Future[dict[str, Any]]] = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="brs-s3-part") as pool:
            try:
                buffer, filled, number = first, len(first), 1
                while filled:
                    if number > MAX_PARTS:
                        raise ValueError(f"the backup needs more than {MAX_PARTS} parts; raise --s3-part-size-mib")
                    failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                    if failed is not None:
                        failed.result()  # raises the part's error
                    futures.append(pool.submit(self._upload_part, upload_id, number, buffer, filled))
                    number += 1
                    buffer = self._buffers.take(part_size_for(number, self.part_size))
                    filled = self._fill(buffer)
                    self.size += filled
                self._buffers.give(buffer)
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _upload_part(self, upload_id: str, number: int, buffer: bytearray, filled: int) -> dict[str, Any]:
        try:
            # Only the last part is shorter than its buffer; shrinking in place needs no copy, and
            # the pool retires the buffer once it comes back with the wrong size.
            del buffer[filled:]
            response = self.client.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=buffer, **self._algorithm()
            )
        finally:
            self._buffers.give(buffer)
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if self.checksum and response.get(f"Checksum{self.checksum}"):
            part[f"Checksum{self.checksum}"] = response[f"Checksum{self.checksum}"]
        return part

    def _algorithm(self) -> dict[str, str]:
        return {"ChecksumAlgorithm": self.checksum} if self.checksum else {}

    def _abort(self, upload_id: str) -> None:
        # Best effort: the original failure matters more, and ensure() aborts stale uploads later.
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
