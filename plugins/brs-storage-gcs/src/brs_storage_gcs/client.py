"""Build the google-cloud-storage client and the retry policy from :class:`GcsSettings`."""

from __future__ import annotations

from google.api_core.retry import Retry
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from brs_storage_gcs.settings import GcsSettings

__all__ = ["TIMEOUT", "make_client", "make_retry"]

#: (connect, read) seconds per request; a stalled request is retried within the retry timeout.
TIMEOUT = (10.0, 60.0)


def make_client(settings: GcsSettings) -> storage.Client:
    """A client with Application Default Credentials.

    ``GOOGLE_APPLICATION_CREDENTIALS``, workload identity or the metadata server supply them;
    with ``STORAGE_EMULATOR_HOST`` set the library talks to the emulator without credentials.
    """
    return storage.Client(project=settings.project)


def make_retry(settings: GcsSettings) -> Retry:
    """google-api-core's retry on 408/429/5xx and connection errors, bounded in time."""
    retry: Retry = DEFAULT_RETRY.with_timeout(settings.retry_timeout)
    return retry
