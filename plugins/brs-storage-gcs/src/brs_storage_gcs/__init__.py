"""brs storage provider for Google Cloud Storage (``--backup-provider gcs``)."""

from __future__ import annotations

from brs_storage_gcs.options import GcsOptions
from brs_storage_gcs.storage import GcsStorage

__all__ = ["GcsOptions", "GcsStorage"]
