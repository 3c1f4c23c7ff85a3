"""S3's side of a bounded parted upload (:mod:`brs.kit.uploads`): a multipart upload, aborted on any failure."""

from __future__ import annotations

import contextlib
from typing import Any, BinaryIO

from brs.kit.uploads import PartedUpload
from brs.streams import BufferReader

__all__ = ["MultipartUpload"]


class MultipartUpload(PartedUpload[dict[str, Any]]):
    """Uploads ``source`` as object ``key``: one PUT when it fits in a part, else a multipart upload.

    S3 shows the object only once the upload is complete; a failed one is aborted, and
    ``ensure()`` aborts those of killed processes later.

    :param client: a botocore S3 client (its retry configuration applies to every request).
    :param checksum: ``"CRC32"`` to send and record per-part checksums, or ``None``.
    """

    max_parts = 10_000
    #: Default 8 MiB parts cover the first 7.8 GiB; the steps up to 2 GiB parts reach about
    #: 6 TiB within S3's 10 000 parts (a terabyte needs 512 MiB parts).
    parts_per_step = 1_000
    size_option = "--s3-part-size-mib"

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        source: BinaryIO,
        part_size: int,
        concurrency: int = 2,
        checksum: str | None = None,
    ) -> None:
        super().__init__(source, part_size, concurrency)
        self.client = client
        self.bucket = bucket
        self.key = key
        self.checksum = checksum
        self.upload_id = ""

    def send_whole(self, data: bytearray) -> bool:
        # Small enough for one PUT, which S3 applies atomically.
        with memoryview(data) as view:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=BufferReader(view), **self._algorithm())
        return True

    def begin(self) -> None:
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self._algorithm())
        self.upload_id = response["UploadId"]

    def send(self, number: int, part: bytearray) -> dict[str, Any]:
        # A file over the part, not the part itself: botocore copies a bytearray body into a BytesIO.
        with memoryview(part) as view:
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=BufferReader(view),
                **self._algorithm(),
            )
        sent = {"PartNumber": number, "ETag": response["ETag"]}
        if self.checksum and response.get(f"Checksum{self.checksum}"):
            sent[f"Checksum{self.checksum}"] = response[f"Checksum{self.checksum}"]
        return sent

    def commit(self, parts: list[dict[str, Any]]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        if not self.upload_id:
            return
        # Best effort: the original failure matters more, and ensure() aborts stale uploads later.
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)

    def _algorithm(self) -> dict[str, str]:
        return {"ChecksumAlgorithm": self.checksum} if self.checksum else {}
