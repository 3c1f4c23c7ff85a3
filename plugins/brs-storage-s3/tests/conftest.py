"""Fixtures of the S3 tests; the helpers live in ``s3_servers`` so test modules can import them."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; the helper module has a name
# unique across the repository's plugins.
sys.path.insert(0, str(Path(__file__).parent))

from s3_servers import ceph_rgw, moto, moto_factory, moto_tls, moto_with_auth, pki, storage_on

__all__ = ["ceph_rgw", "moto", "moto_factory", "moto_tls", "moto_with_auth", "pki", "storage_on"]
