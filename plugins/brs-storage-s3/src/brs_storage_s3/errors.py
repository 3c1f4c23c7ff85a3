"""Explain botocore exceptions in one line for :func:`brs.kit.errors.storage_error`.

botocore has already retried transient failures (timeouts, 5xx, throttling) when an exception
reaches this module, so whatever arrives here is reported, never retried again.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)
from brs.kit.errors import cause_of

__all__ = ["describe", "error_code"]

#: Codes whose meaning is clearer in words than in S3's names.
_EXPLAINED = {
    "InvalidAccessKeyId": "the access key is not known to the server (check the credentials)",
    "SignatureDoesNotMatch": "the secret key does not match the access key (check the credentials)",
    "AccessDenied": "access denied (check the credentials and the bucket policy)",
    "AllAccessDisabled": "access denied (all access to this bucket is disabled)",
    "NoSuchBucket": "the bucket does not exist",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is invalid",
    "RequestTimeTooSkewed": "the local clock differs too much from the server's",
    "PermanentRedirect": "the bucket is in another region (set --s3-region)",
    "AuthorizationHeaderMalformed": "the request was signed for the wrong region (set --s3-region)",
}


def error_code(error: BaseException) -> str:
    """The S3 error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def describe(error: BaseException) -> str:
    """A short human explanation of a botocore failure, without request details or secrets."""
    cause = cause_of(error, (ClientError, BotoCoreError)) or error
    if isinstance(cause, ClientError):
        code = error_code(cause)
        status = _status(cause)
        if code in _EXPLAINED:
            return f"{_EXPLAINED[code]} [{code}]"
        if code in ("403", "Forbidden") or status == 403:
            return "access denied (HTTP 403; check the credentials and the bucket policy)"
        if code in ("404", "NotFound") or status == 404:
            return "not found (HTTP 404)"
        message = str(cause.response.get("Error", {}).get("Message") or "").strip()
        return f"{code or 'HTTP ' + str(status)}: {message}" if message else f"{code or 'HTTP ' + str(status)}"
    if isinstance(cause, SSLError):
        # The underlying ssl error says what was wrong; botocore's text repeats the whole URL.
        detail = cause.kwargs.get("error") or cause
        return f"TLS failure talking to the endpoint (certificate not trusted? see --s3-trusted-ca-cert): {_reason(detail)}"
    if isinstance(cause, EndpointConnectionError):
        return "cannot connect to the endpoint (after retries)"
    if isinstance(cause, (ReadTimeoutError, ConnectionClosedError)):
        return f"the connection failed after retries: {_reason(cause)}"
    if isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials found (set --s3-access-key/--s3-secret-key or the standard AWS variables)"
    if isinstance(cause, BotoCoreError):
        return _reason(cause)
    return f"{type(cause).__name__}: {cause}"


def _reason(error: BaseException) -> str:
    # botocore messages embed the whole urllib3 repr; its last clause is the useful part.
    text = " ".join(str(error).split())
    return text[-300:] if len(text) > 300 else text
