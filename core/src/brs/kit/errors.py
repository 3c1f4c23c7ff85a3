"""One-line storage errors that never carry a secret.

SDK exceptions span several lines, repeat request URLs (with SAS tokens or signatures in their
queries) and sometimes echo a response body. A storage plugin explains the failure in its own
words (its ``describe``) and builds the error here: ``cannot ACTION in WHERE: REASON`` on one
line, with every secret it knows of masked, and credential-shaped query or connection-string
fields masked whatever their value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from brs.errors import StorageError

__all__ = ["cause_of", "first_line", "masked", "one_line", "storage_error"]

MASK = "***"
#: Fields whose value is a credential wherever they appear: SAS and signed-URL query parameters,
#: connection-string fields.
_CREDENTIAL_FIELDS = re.compile(
    r"(?i)\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature"
    r"|x-goog-credential|access_token|accountkey|sharedaccesssignature)=[^&;\s\"']+"
)


def masked(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with each of ``secrets`` (longest first) and every credential field replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _CREDENTIAL_FIELDS.sub(lambda match: f"{match.group(1)}={MASK}", text)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with every run of whitespace (newlines too) made one space, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat[:limit] if limit is not None else flat


def first_line(error: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (``message`` attribute if it has one)."""
    lines = str(getattr(error, "message", None) or error).strip().splitlines()
    return lines[0].strip()[:limit] if lines else type(error).__name__


def cause_of(error: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``types`` in ``error``'s chain (itself, its cause, its context...).

    An uploader re-raises a part's error from its own thread, so the SDK failure that explains
    it can sit a few links down.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, types):
            return current
        current = current.__cause__ or current.__context__
    return None


def storage_error(action: str, where: str, reason: str, secrets: Iterable[str | None] = ()) -> StorageError:
    """``StorageError("cannot ACTION in WHERE: REASON")`` on one line, secrets masked.

    :param where: the location for the reader (``s3://bucket/prefix/``); never with credentials.
    :param secrets: values to mask wherever they appear (keys, connection strings, SAS URLs).
    """
    return StorageError(one_line(masked(f"cannot {action} in {where}: {reason}", secrets)))
