"""Build the Blob service client, its retry policy and transport settings from the Azure options."""

from __future__ import annotations

from typing import Any

from azure.storage.blob import BlobServiceClient, ExponentialRetry
from brs.errors import ConfigError

from brs_storage_azure.options import AzureOptions

__all__ = ["make_service"]

_MiB = 1 << 20


def make_service(settings: AzureOptions) -> BlobServiceClient:
    """A client for the account, authenticated by the connection string, a SAS URL or
    DefaultAzureCredential (workload identity, managed identity, environment, az login)."""
    kwargs: dict[str, Any] = {
        # The SDK's default waits 15 s before the first retry; start at 1 s and grow
        # (1, 3, 5, 9, 17 s...) so a restarting endpoint is ridden out without stalling.
        "retry_policy": ExponentialRetry(
            initial_backoff=1, increment_base=2, retry_total=settings.max_retries, random_jitter_range=1
        ),
        "connection_timeout": 10,
        "read_timeout": 60,
        # Downloads fetch this much per request; the default 32 MiB first request would be held
        # in memory at once.
        "max_single_get_size": 4 * _MiB,
        "max_chunk_get_size": 4 * _MiB,
    }
    if settings.trusted_ca_cert:
        kwargs["connection_verify"] = settings.trusted_ca_cert
    if settings.connection_string:
        try:
            return BlobServiceClient.from_connection_string(settings.connection_string, **kwargs)
        except ValueError as error:
            # The SDK's message never repeats the string; ours must not either.
            raise ConfigError("--azure-connection-string is malformed (expected AccountName=...;AccountKey=...;...)") from error
    assert settings.account_url is not None
    credential = None if "sig=" in settings.account_url else _default_credential()
    return BlobServiceClient(settings.account_url, credential=credential, **kwargs)


def _default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as error:
        raise ConfigError(
            "--azure-account-url without a SAS token needs azure-identity: pip install 'brs-storage-azure[identity]' "
            "(or use --azure-connection-string)"
        ) from error
    return DefaultAzureCredential()
