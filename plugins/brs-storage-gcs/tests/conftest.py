"""Fixtures of the GCS tests; the helpers live in ``gcs_servers`` so test modules can import them."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; the helper module has a name
# unique across the repository's plugins.
sys.path.insert(0, str(Path(__file__).parent))

from gcs_servers import emulator_factory, gcs_emulator, gcs_pki, gcs_storage_on, gcs_tls_proxy

__all__ = ["emulator_factory", "gcs_emulator", "gcs_pki", "gcs_storage_on", "gcs_tls_proxy"]
