"""Deciding whether an etcd data directory is empty, usable or corrupt."""

from __future__ import annotations

from pathlib import Path

from brs.datadir import is_empty
from brs.interfaces import DataDirState, DataDirStatus

__all__ = ["check_data_dir"]

#: bbolt's magic number, in the meta pages at the start of member/snap/db.
_BOLT_MAGIC = 0xED0CDAED
_META_OFFSET = 16  # after the page header


def check_data_dir(data_dir: Path) -> DataDirState:
    """EMPTY, HEALTHY, or CORRUPT with a reason; reads only."""
    if is_empty(data_dir):
        return DataDirState(DataDirStatus.EMPTY, "no files")
    if not data_dir.is_dir():
        return DataDirState(DataDirStatus.CORRUPT, f"{data_dir} is not a directory")
    member = data_dir / "member"
    if not member.is_dir():
        return DataDirState(DataDirStatus.CORRUPT, f"no member/ directory in {data_dir}")
    wal = member / "wal"
    if not wal.is_dir() or not any(p.suffix == ".wal" for p in wal.iterdir()):
        return DataDirState(DataDirStatus.CORRUPT, "member/wal holds no .wal file")
    db = member / "snap" / "db"
    try:
        with open(db, "rb") as handle:
            header = handle.read(_META_OFFSET + 4)
    except OSError as error:
        return DataDirState(DataDirStatus.CORRUPT, f"member/snap/db is unreadable: {error.strerror or error}")
    if len(header) < _META_OFFSET + 4 or int.from_bytes(header[_META_OFFSET:], "little") != _BOLT_MAGIC:
        return DataDirState(DataDirStatus.CORRUPT, "member/snap/db is not a bbolt database")
    return DataDirState(DataDirStatus.HEALTHY)
