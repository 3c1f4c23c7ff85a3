"""brs storage provider for Amazon S3 and S3-compatible servers (``--backup-provider s3``)."""

from __future__ import annotations

from s3.storage import S3Storage

__all__ = ["S3Storage"]
