"""Build the S3 client from :class:`~brs_storage_s3.options.S3Options`.

botocore's own client, without boto3: boto3 adds resources and transfer helpers that brs does
not use, and importing them costs about 3.5 MiB of the process's peak memory.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.config import Config

from brs_storage_s3.options import S3Options

__all__ = ["DEFAULT_REGION", "make_client"]

DEFAULT_REGION = "us-east-1"


def make_client(settings: S3Options) -> Any:
    """An S3 client with retries, timeouts, TLS and credentials as configured.

    Without explicit keys botocore's own chain applies (``AWS_*`` variables, shared config
    files, web identity for IRSA, container and instance metadata), as it would through boto3.
    """
    config_kwargs: dict[str, Any] = {
        "retries": {"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
        "connect_timeout": 10,
        "read_timeout": 60,
        "max_pool_connections": settings.upload_concurrency + 2,
        "user_agent_extra": "brs-storage-s3",
    }
    if settings.endpoint:
        # S3-compatible servers rarely have wildcard DNS for virtual-hosted buckets.
        config_kwargs["s3"] = {"addressing_style": "path"}
    if settings.checksum_calculation:
        config_kwargs["request_checksum_calculation"] = settings.checksum_calculation
        config_kwargs["response_checksum_validation"] = settings.checksum_calculation
    session = botocore.session.get_session()
    verify: bool | str | None = None
    if settings.insecure_skip_verify:
        verify = False
    elif settings.ca_file:
        verify = settings.ca_file
    return session.create_client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region or session.get_config_variable("region") or DEFAULT_REGION,
        verify=verify,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        config=Config(**config_kwargs),
    )
