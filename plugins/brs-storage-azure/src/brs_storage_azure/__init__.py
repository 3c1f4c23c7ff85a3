"""brs storage provider for Azure Blob Storage (``--backup-provider azure``)."""

from __future__ import annotations

from brs_storage_azure.options import AzureOptions
from brs_storage_azure.storage import AzureStorage

__all__ = ["AzureOptions", "AzureStorage"]
