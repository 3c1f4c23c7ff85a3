"""brs database plugin ``localfs``: back up and restore a plain directory tree."""

from __future__ import annotations

from pathlib import Path

from brs.archive import ArchiveReader, ArchiveWriter
from brs.datadir import is_empty, is_reserved
from brs.errors import ConfigError, DatabaseError
from brs.interfaces import Database, DataDirState, DataDirStatus, NoOptions
from brs.legacy import ROOT as LEGACY_ROOT

__all__ = ["LocalFs"]

#: Every member lives below this folder in the archive, so a downloaded archive unpacks tidily.
ROOT = "data"


class LocalFs(Database[NoOptions]):
    """The "database" is the data directory itself: files, empty directories, symlinks, modes,
    owners and mtimes are kept. It has no server, so probing always succeeds and the backup is
    only as consistent as the writers to the directory allow.
    """

    has_server = False

    def _data_dir(self) -> Path:
        if self.context.data_dir is None:
            raise ConfigError("localfs needs --db-data-directory")
        return self.context.data_dir

    def check(self, data_dir: Path) -> DataDirState:
        if is_empty(data_dir):
            return DataDirState(DataDirStatus.EMPTY, "no files")
        if not data_dir.is_dir():
            return DataDirState(DataDirStatus.CORRUPT, f"{data_dir} is not a directory")
        return DataDirState(DataDirStatus.HEALTHY)

    def dump(self, archive: ArchiveWriter) -> None:
        data_dir = self._data_dir()
        if not data_dir.is_dir():
            raise DatabaseError(f"data directory {data_dir} does not exist")
        # brs's own staging and set-aside folders (".brs-*") and lost+found are not data.
        archive.add_path(
            data_dir, ROOT, exclude=lambda name: _top_level(name) in ("lost+found",) or is_reserved(_top_level(name))
        )

    def restore(self, archive: ArchiveReader, target: Path) -> None:
        archive.extract_all(target, strip=ROOT + "/")

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        # backup-restore-sidecar archived a copy of the tree below files/.
        archive.extract_all(target, strip=LEGACY_ROOT)


def _top_level(member: str) -> str:
    parts = member.split("/", 2)
    return parts[1] if len(parts) > 1 else ""
