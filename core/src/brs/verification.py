"""The record of a backup's last successful verification, stored next to its data object.

The manifest is written last and bound to the key by its MAC, so it is never rewritten; a
successful ``brs verify`` (or the sidecar's drill) instead writes ``<object>.verified.json``.
It only feeds ``verified_at`` in listings: nothing chooses, keeps or deletes a backup by it,
so a forged record can at worst claim a verification that did not happen. It is read within
:data:`MAX_RECORD_SIZE`, goes with its backup when that is deleted, and a record whose backup
is gone is removed by retention like an orphaned data object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import msgspec

from brs.manifest import _ID_PATTERN, _TIME_PATTERN, InvalidManifest, format_time

__all__ = ["MAX_RECORD_SIZE", "VERIFIED_SUFFIX", "Verification", "backup_object_of", "decode", "encode"]

VERIFIED_SUFFIX: Final = ".verified.json"
#: A record is a few dozen bytes; anything larger is not one brs wrote.
MAX_RECORD_SIZE: Final = 1024


class Verification(msgspec.Struct, forbid_unknown_fields=True):
    backup_id: Annotated[str, msgspec.Meta(pattern=_ID_PATTERN)]
    verified_at: Annotated[str, msgspec.Meta(pattern=_TIME_PATTERN)]


def backup_object_of(name: str) -> str | None:
    """The data object a record named ``name`` belongs to, or None if ``name`` is not a record."""
    return name.removesuffix(VERIFIED_SUFFIX) if name.endswith(VERIFIED_SUFFIX) else None


def encode(backup_id: str, moment: datetime) -> bytes:
    return msgspec.json.encode(Verification(backup_id, format_time(moment))) + b"\n"


def decode(data: bytes, name: str, backup_id: str) -> Verification:
    """Validate record ``name`` of backup ``backup_id``; raises :class:`InvalidManifest`."""
    try:
        if len(data) > MAX_RECORD_SIZE:
            raise ValueError(f"larger than {MAX_RECORD_SIZE} bytes")
        record = msgspec.json.decode(data, type=Verification)
        if record.backup_id != backup_id:
            raise ValueError(f"it names backup {record.backup_id}")
    except (msgspec.DecodeError, ValueError) as error:
        raise InvalidManifest(f"verification record {name} is unreadable: {error}") from None
    return record
