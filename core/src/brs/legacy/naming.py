"""Object names of backup-restore-sidecar: which stored objects are its backups, and how they were made.

The old tool named a backup ``<stem>.tar[.gz|.lz4][.aes]``: the compression is chosen by the
suffix and ``.aes`` is the only mark of encryption (there is no header). On local storage the
stem is a rotating counter (``0``, ``1``, ...) directly in the provider path, which ignored
``--object-prefix``; on S3 and GCS it is ``db`` below the prefix, the same key overwritten by
every backup of a versioned bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["COMPRESSIONS", "LegacyName", "is_bucket_name", "is_local_name", "parse"]

#: Object suffix -> brs compression method (the old tool's ``--compression-method`` names).
COMPRESSIONS = {".tar": "tar", ".tar.gz": "targz", ".tar.lz4": "tarlz4"}
ENCRYPTED_SUFFIX = ".aes"
_SUFFIX = r"\.tar(?:\.gz|\.lz4)?(?:\.aes)?"
_LOCAL = re.compile(rf"^\d+{_SUFFIX}$")
_BUCKET = re.compile(rf"^db{_SUFFIX}$")


@dataclass(frozen=True)
class LegacyName:
    """What an old object name says about its content."""

    compression: str
    encrypted: bool


def is_local_name(name: str) -> bool:
    """A file the old local provider wrote (``3.tar.gz.aes``)."""
    return bool(_LOCAL.match(name))


def is_bucket_name(name: str) -> bool:
    """The last path segment of an object the old S3 or GCS provider wrote (``db.tar.lz4``)."""
    return bool(_BUCKET.match(name))


def parse(name: str) -> LegacyName:
    """Compression and encryption of the old object ``name`` (a path is fine).

    :raises ValueError: when the name has none of the old tool's suffixes.
    """
    base = name.rsplit("/", 1)[-1]
    encrypted = base.endswith(ENCRYPTED_SUFFIX)
    if encrypted:
        base = base[: -len(ENCRYPTED_SUFFIX)]
    for suffix in sorted(COMPRESSIONS, key=len, reverse=True):
        if base.endswith(suffix):
            return LegacyName(COMPRESSIONS[suffix], encrypted)
    raise ValueError(f"{name} is not named like a backup of backup-restore-sidecar")
