"""Fixtures of the GCS tests: the emulators of :mod:`brs_storage_gcs.testing`."""

from __future__ import annotations

from brs_storage_gcs.testing import emulator_factory, gcs_emulator, gcs_pki, gcs_storage_on, gcs_tls_proxy

__all__ = ["emulator_factory", "gcs_emulator", "gcs_pki", "gcs_storage_on", "gcs_tls_proxy"]
