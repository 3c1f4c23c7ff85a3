"""Fixtures of the Azure tests; the helpers live in ``azure_servers`` so test modules can import them."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; the helper module has a name
# unique across the repository's plugins.
sys.path.insert(0, str(Path(__file__).parent))

from azure_servers import azure_storage_on, azurite, azurite_factory

__all__ = ["azure_storage_on", "azurite", "azurite_factory"]
