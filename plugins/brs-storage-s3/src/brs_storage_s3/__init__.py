"""brs storage provider for Amazon S3 and S3-compatible servers (``--backup-provider s3``)."""

from __future__ import annotations

from brs_storage_s3.options import S3Options
from brs_storage_s3.storage import S3Storage

__all__ = ["S3Options", "S3Storage"]
