"""Explain azure-core exceptions in one line for :func:`brs.kit.errors.storage_error`.

The SDK's retry policy has already retried transient failures (timeouts, 408/429/5xx,
connection errors) when an exception reaches this module. Its messages span several lines and
include the response body, so only the status, the error code and a short reason are kept.
"""

from __future__ import annotations

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from brs.kit.errors import first_line

__all__ = ["AZURE_ERRORS", "describe"]

AZURE_ERRORS: tuple[type[BaseException], ...] = (AzureError,)

_EXPLAINED = {
    "AuthenticationFailed": "the credentials were rejected (check the account key, SAS token or identity)",
    "AuthorizationFailure": "access denied (check the credentials: account key, SAS token and its permissions, or role)",
    "AuthorizationPermissionMismatch": "access denied (the SAS token or the identity's role does not permit this)",
    "InsufficientAccountPermissions": "access denied (the account or SAS may not do this)",
    "ContainerNotFound": "the container does not exist",
    "ContainerBeingDeleted": "the container is being deleted",
    "AccountIsDisabled": "the storage account is disabled",
}


def describe(error: BaseException) -> str:
    """A short human explanation without URLs, tokens or response bodies."""
    if isinstance(error, HttpResponseError) and error.status_code:
        raw = getattr(error, "error_code", None)  # set by the storage SDK, not declared by azure-core
        code = str(getattr(raw, "value", raw) or "")
        if code in _EXPLAINED:
            return f"{_EXPLAINED[code]} [{code}]"
        if error.status_code == 403:
            return f"access denied (HTTP 403{'; ' + code if code else ''})"
        return f"HTTP {error.status_code}{' ' + code if code else ''}: {error.reason or ''}".rstrip(": ")
    if isinstance(error, ClientAuthenticationError):
        return f"cannot obtain a token: {first_line(error)}"
    if isinstance(error, ServiceRequestError):
        if "CERTIFICATE_VERIFY_FAILED" in str(error) or "SSL" in str(error):
            return "TLS failure talking to the endpoint (certificate not trusted? see --azure-trusted-ca-cert)"
        return "cannot connect to the endpoint (after retries)"
    if isinstance(error, ServiceResponseError):
        return "the connection failed while waiting for the response (after retries)"
    return f"{type(error).__name__}: {first_line(error)}"
