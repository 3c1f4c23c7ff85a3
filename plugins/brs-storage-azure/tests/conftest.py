"""Fixtures of the Azure tests: the Azurites of :mod:`brs_storage_azure.testing`."""

from __future__ import annotations

from brs_storage_azure.testing import azure_storage_on, azurite, azurite_factory

__all__ = ["azure_storage_on", "azurite", "azurite_factory"]
