"""Records of failed backups, stored under the prefix so every brs process sees them.

A failed backup leaves nothing that lists, so ``<backup id>.failed.json`` records when it
failed, in which stage and the one-line error (brs's errors never carry secrets). Only the
newest :data:`KEEP` records are kept. The name matches neither a data object nor a manifest,
so listing and retention never count or delete one; they are read within
:data:`MAX_RECORD_SIZE` and a malformed one is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import msgspec

from brs.manifest import _ID_PATTERN, _TIME_PATTERN, InvalidManifest, format_time

__all__ = ["FAILED_SUFFIX", "KEEP", "MAX_RECORD_SIZE", "Failure", "decode", "encode", "is_record"]

FAILED_SUFFIX: Final = ".failed.json"
#: How many failure records stay under the prefix; older ones are removed when one is added.
KEEP: Final = 20
MAX_RECORD_SIZE: Final = 2048
#: The error as recorded: its first line, at most this long.
_ERROR_LENGTH: Final = 500


class Failure(msgspec.Struct, forbid_unknown_fields=True):
    backup_id: Annotated[str, msgspec.Meta(pattern=_ID_PATTERN)]
    failed_at: Annotated[str, msgspec.Meta(pattern=_TIME_PATTERN)]
    stage: Annotated[str, msgspec.Meta(pattern=r"^[a-z-]{1,32}$")]
    error: Annotated[str, msgspec.Meta(max_length=_ERROR_LENGTH)]


def is_record(name: str) -> bool:
    return name.endswith(FAILED_SUFFIX)


def encode(backup_id: str, moment: datetime, stage: str, error: BaseException) -> bytes:
    lines = str(error).strip().splitlines()
    text = (lines[0] if lines else type(error).__name__)[:_ERROR_LENGTH]
    return msgspec.json.encode(Failure(backup_id, format_time(moment), stage, text)) + b"\n"


def decode(data: bytes, name: str) -> Failure:
    """Validate failure record ``name``; raises :class:`InvalidManifest`."""
    try:
        if len(data) > MAX_RECORD_SIZE:
            raise ValueError(f"larger than {MAX_RECORD_SIZE} bytes")
        record = msgspec.json.decode(data, type=Failure)
        if name != record.backup_id + FAILED_SUFFIX:
            raise ValueError(f"it names backup {record.backup_id}")
    except (msgspec.DecodeError, ValueError) as error:
        raise InvalidManifest(f"failure record {name} is unreadable: {error}") from None
    return record
