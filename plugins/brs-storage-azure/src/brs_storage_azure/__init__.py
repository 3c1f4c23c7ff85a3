"""brs storage provider for Azure Blob Storage (``--backup-provider azure``)."""

from __future__ import annotations

from azure.storage import AzureStorage

__all__ = ["AzureStorage"]
