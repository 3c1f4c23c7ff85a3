"""Restoring backups of backup-restore-sidecar: ``pg_basebackup -Ft -z --wal-method=stream`` output.

The old tool stored ``base.tar.gz`` (the data directory), ``pg_wal.tar.gz`` (the WAL streamed
during the backup) and, from PostgreSQL 13 on, ``backup_manifest``. The layout is rebuilt as
that tool did (base into the directory, WAL into ``pg_wal/``), with brs's safe extraction, and
checked with ``pg_verifybackup`` when a manifest is there: the only integrity proof these
backups have.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import BinaryIO, cast

from brs.archive import ArchiveReader
from brs.errors import DatabaseError
from brs.legacy import ROOT

from brs_postgres.tools import Owner, Toolset

__all__ = ["restore"]

_BASE = "base.tar.gz"
_WAL = "pg_wal.tar.gz"
_MANIFEST = "backup_manifest"


def restore(archive: ArchiveReader, target: Path, tools: Toolset, owner: Owner) -> None:
    """Build the data directory at ``target`` from the members of an old backup."""
    found: set[str] = set()
    for entry in archive:
        name = entry.name.removeprefix(ROOT)
        if name == _BASE:
            _unpack(entry.open(), target)
        elif name == _WAL:
            _unpack(entry.open(), target / "pg_wal")
        elif name == _MANIFEST:
            with entry.open() as source, open(target / _MANIFEST, "wb") as out:
                shutil.copyfileobj(source, out)
        else:
            continue
        found.add(name)
    missing = [name for name in (_BASE, _WAL) if name not in found]
    if missing:
        raise DatabaseError(
            f"the old backup has no {' and no '.join(missing)}; it is not a pg_basebackup of backup-restore-sidecar"
        )
    owner.chown_tree(target)
    os.chmod(target, 0o700)
    if _MANIFEST in found:
        _verify(target, tools)


def _unpack(member: BinaryIO, target: Path) -> None:
    target.mkdir(mode=0o700, exist_ok=True)
    with member, gzip.GzipFile(fileobj=member, mode="rb") as plain:
        reader = ArchiveReader(cast(BinaryIO, plain))
        reader.extract_all(target)
        reader.drain()


def _verify(target: Path, tools: Toolset) -> None:
    args = [str(target)]
    try:
        same_major = (target / "PG_VERSION").read_text().strip() == str(tools.major())
    except (OSError, DatabaseError):
        same_major = False
    if not same_major:
        # pg_waldump only reads WAL of its own major version; file checksums are still checked.
        args.insert(0, "--no-parse-wal")
    tools.run("pg_verifybackup", ["--quiet", *args], what=f"pg_verifybackup of the restored old backup in {target}")
    (target / _MANIFEST).unlink()
