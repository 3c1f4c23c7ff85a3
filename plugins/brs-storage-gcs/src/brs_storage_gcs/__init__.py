"""brs storage provider for Google Cloud Storage (``--backup-provider gcs``)."""

from __future__ import annotations

from gcs.storage import GcsStorage

__all__ = ["GcsStorage"]
