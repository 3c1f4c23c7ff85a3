"""Build the google-cloud-storage client and the retry policy from :class:`~brs_storage_gcs.options.GcsOptions`."""

from __future__ import annotations

from typing import Any

import requests
from brs.errors import ConfigError
from google.api_core.retry import Retry
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from brs_storage_gcs.errors import untrusted_certificate
from brs_storage_gcs.options import GcsOptions

__all__ = ["TIMEOUT", "make_client", "make_retry"]

#: (connect, read) seconds per request; a stalled request is retried within the retry timeout.
TIMEOUT = (10.0, 60.0)


def make_client(settings: GcsOptions) -> storage.Client:
    """A client with Application Default Credentials.

    ``GOOGLE_APPLICATION_CREDENTIALS``, workload identity or the metadata server supply them;
    with ``STORAGE_EMULATOR_HOST`` set the library talks to the emulator without credentials.
    ``--gcp-trusted-ca-cert`` or ``--gcp-insecure-skip-verify`` change how the storage requests
    (JSON API, uploads, downloads) verify the endpoint; token requests to Google keep the
    system's CAs, they go to Google's own endpoints.
    """
    client = storage.Client(project=settings.project)
    # The client's session is the AuthorizedSession that the library builds on first use
    # and hands to every JSON API, upload and download request; there is no public hook.
    session: requests.Session = client._http
    session.hooks["response"].append(_forget_sent_body)
    if settings.verify is not True:
        if getattr(session, "is_mtls", False):
            # Mounting our adapter would silently drop the client certificate's adapter.
            raise ConfigError(
                "--gcp-trusted-ca-cert and --gcp-insecure-skip-verify cannot be combined with "
                "GOOGLE_API_USE_CLIENT_CERTIFICATE=true"
            )
        session.mount("https://", _VerifyingAdapter(settings.verify))
    return client


def _forget_sent_body(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Drop the body of a request once its response arrived.

    The library's resumable upload loop keeps the last response, and through its request the
    last chunk sent, while it reads the next chunk: one chunk more of memory. A retry re-sends
    the chunk the library itself still holds, and a redirect, which re-sends the body, keeps it.
    """
    if response.request is not None and not response.is_redirect:
        response.request.body = None
    return response


class _VerifyingAdapter(requests.adapters.HTTPAdapter):
    """An adapter that always verifies with ``verify``.

    Setting ``Session.verify`` is not enough: requests lets ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` from the environment override it, and the explicit option must win.
    """

    def __init__(self, verify: bool | str) -> None:
        super().__init__()
        self._verify = verify

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if len(args) >= 3:  # send(request, stream, timeout, verify, ...) called positionally
            args = (*args[:2], self._verify, *args[3:])
        else:
            kwargs["verify"] = self._verify
        return super().send(request, *args, **kwargs)


def make_retry(settings: GcsOptions) -> Retry:
    """google-api-core's retry on 408/429/5xx and connection errors, bounded in time.

    requests counts a failed certificate verification as a connection error, which the
    library's predicate retries; it never heals by itself, so it fails at once instead of
    after ``--gcp-retry-timeout``.
    """
    default = DEFAULT_RETRY._predicate

    def retryable(error: Exception) -> bool:
        return untrusted_certificate(error) is None and bool(default(error))

    retry: Retry = DEFAULT_RETRY.with_timeout(settings.retry_timeout).with_predicate(retryable)
    return retry
