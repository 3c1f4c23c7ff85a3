"""What a Meilisearch data directory and a brs Meilisearch backup look like."""

from __future__ import annotations

from pathlib import Path

from brs.datadir import is_empty
from brs.errors import DatabaseError
from brs.interfaces import DataDirState, DataDirStatus
from brs.kit.metadata import MetadataMember

from brs_meilisearch.binary import parse_version

__all__ = ["DUMP_MEMBER", "METADATA", "VERSION_FILE", "check_data_dir"]

#: The first member of a backup: the version of the server that wrote the dump.
METADATA = MetadataMember("brs-meilisearch.json", format=1, plugin="brs-meilisearch")
#: The data member of a backup: the dump file exactly as Meilisearch wrote it.
DUMP_MEMBER = "meilisearch.dump"
VERSION_FILE = "VERSION"
#: LMDB environments every Meilisearch 1.x database has, next to VERSION.
_REQUIRED = ("tasks/data.mdb", "auth/data.mdb")


def check_data_dir(data_dir: Path) -> DataDirState:
    """Empty, healthy, or corrupt (with the first reason found); never modifies anything."""
    if is_empty(data_dir):
        return DataDirState(DataDirStatus.EMPTY, "no files")
    if not data_dir.is_dir():
        return DataDirState(DataDirStatus.CORRUPT, f"{data_dir} is not a directory")
    version = data_dir / VERSION_FILE
    if not version.is_file():
        return DataDirState(DataDirStatus.CORRUPT, f"{VERSION_FILE} is missing")
    try:
        parse_version(version.read_text(errors="replace"), str(version))
    except (DatabaseError, OSError) as error:
        return DataDirState(DataDirStatus.CORRUPT, str(error))
    for name in _REQUIRED:
        if not (data_dir / name).is_file():
            return DataDirState(DataDirStatus.CORRUPT, f"{name} is missing")
    indexes = data_dir / "indexes"
    if indexes.is_dir():
        for index in indexes.iterdir():
            if index.is_dir() and not (index / "data.mdb").is_file():
                return DataDirState(DataDirStatus.CORRUPT, f"indexes/{index.name}/data.mdb is missing")
    return DataDirState(DataDirStatus.HEALTHY)
