"""Fixtures of the S3 tests: the servers of :mod:`brs_storage_s3.testing`."""

from __future__ import annotations

from brs_storage_s3.testing import ceph_rgw, moto, moto_factory, moto_tls, moto_with_auth, pki, storage_on

__all__ = ["ceph_rgw", "moto", "moto_factory", "moto_tls", "moto_with_auth", "pki", "storage_on"]
