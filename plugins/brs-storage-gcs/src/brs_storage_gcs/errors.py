"""Explain google-cloud-storage, google-auth and transport exceptions in one line for
:func:`brs.kit.errors.storage_error`.

google-api-core's Retry has already retried transient failures when an exception reaches this
module, so whatever arrives here is reported, never retried again.
"""

from __future__ import annotations

import ssl

import requests
from brs.kit.errors import one_line
from google.api_core import exceptions as api
from google.auth import exceptions as auth

try:  # google-resumable-media moved into google-cloud-storage in 3.x
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
except ImportError:  # pragma: no cover - older google-cloud-storage
    from google.resumable_media.common import DataCorruption, InvalidResponse

__all__ = ["GCS_ERRORS", "describe", "untrusted_certificate"]

#: Every exception type the client library raises for a failed request.
GCS_ERRORS: tuple[type[BaseException], ...] = (
    api.GoogleAPIError,
    auth.GoogleAuthError,
    requests.exceptions.RequestException,
    InvalidResponse,
    DataCorruption,
)


def describe(error: BaseException) -> str:
    """A short human explanation without request URLs, tokens or response bodies."""
    if isinstance(error, api.RetryError) and error.cause is not None:
        return f"{describe(error.cause)} (still failing after retries)"
    if isinstance(error, auth.DefaultCredentialsError):
        return f"no usable Google credentials (Application Default Credentials): {_first_sentence(error)}"
    if isinstance(error, (auth.RefreshError, auth.TransportError)):
        return f"cannot obtain an access token: {_first_sentence(error)}"
    if isinstance(error, api.Unauthorized):
        return "the credentials were rejected (HTTP 401)"
    if isinstance(error, api.Forbidden):
        return f"access denied (HTTP 403; check the service account's roles): {_first_sentence(error)}"
    if isinstance(error, api.NotFound):
        return "not found (HTTP 404)"
    if isinstance(error, api.GoogleAPICallError):
        return f"HTTP {error.code}: {_first_sentence(error)}"
    if (reason := untrusted_certificate(error)) is not None:
        return f"the endpoint's TLS certificate is not trusted ({reason}); check --gcp-trusted-ca-cert"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS failure talking to the endpoint"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "cannot connect to the endpoint"
    if isinstance(error, requests.exceptions.Timeout):
        return "the request timed out"
    if isinstance(error, InvalidResponse):
        status = getattr(error.response, "status_code", "?")
        return f"unexpected response (HTTP {status})"
    if isinstance(error, DataCorruption):
        return "the checksum of the transferred data did not match"
    return f"{type(error).__name__}: {_first_sentence(error)}"


def untrusted_certificate(error: BaseException) -> str | None:
    """OpenSSL's reason when ``error`` stems from a failed certificate verification, else None.

    requests wraps the ``ssl.SSLCertVerificationError`` in urllib3's ``MaxRetryError`` and
    ``SSLError`` (as ``args`` and ``reason``, not always as ``__cause__``), so every link is
    followed. Other TLS errors (a reset during the handshake) are not verification failures.
    """
    pending: list[object] = [error]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return one_line(str(current.verify_message or current.reason or "certificate verify failed"))
        pending.extend((current.__cause__, current.__context__, getattr(current, "reason", None), *current.args))
    if "CERTIFICATE_VERIFY_FAILED" in str(error):  # a wrapper that kept only the text
        return "certificate verify failed"
    return None


def _first_sentence(error: BaseException) -> str:
    return one_line(str(getattr(error, "message", None) or error), 300)
