"""Build the boto3 S3 client and transfer configuration from :class:`S3Settings`."""

from __future__ import annotations

from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from brs_storage_s3.settings import S3Settings

__all__ = ["make_client", "transfer_config"]

DEFAULT_REGION = "us-east-1"
#: Two parts in flight and two buffered keeps the upload near 4 parts of memory (~100 MiB peak
#: RSS for the whole process with 16 MiB parts) while saturating a 2-core machine.
_CONCURRENCY = 2


def make_client(settings: S3Settings) -> Any:
    """An S3 client with retries, timeouts, TLS and credentials as configured.

    Without explicit keys boto3's own chain applies (``AWS_*`` variables, shared config files,
    web identity for IRSA, instance metadata).
    """
    config_kwargs: dict[str, Any] = {
        "retries": {"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
        "connect_timeout": 10,
        "read_timeout": 60,
        "max_pool_connections": _CONCURRENCY + 2,
        "user_agent_extra": "brs-storage-s3",
    }
    if settings.endpoint:
        # S3-compatible servers rarely have wildcard DNS for virtual-hosted buckets.
        config_kwargs["s3"] = {"addressing_style": "path"}
    if settings.checksum_calculation:
        config_kwargs["request_checksum_calculation"] = settings.checksum_calculation
        config_kwargs["response_checksum_validation"] = settings.checksum_calculation
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        region_name=settings.region,
    )
    verify: bool | str | None = None
    if settings.insecure_skip_verify:
        verify = False
    elif settings.trusted_ca_cert:
        verify = settings.trusted_ca_cert
    return session.client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region or session.region_name or DEFAULT_REGION,
        verify=verify,
        config=Config(**config_kwargs),
    )


def transfer_config(settings: S3Settings) -> TransferConfig:
    """Multipart settings with bounded memory for non-seekable streams."""
    config = TransferConfig(
        multipart_threshold=settings.part_size,
        multipart_chunksize=settings.part_size,
        max_concurrency=_CONCURRENCY,
        use_threads=True,
    )
    # Not a constructor argument of boto3's TransferConfig; without it s3transfer buffers up to
    # ten parts of a stream that it cannot seek back into.
    config.max_in_memory_upload_chunks = _CONCURRENCY
    return config
