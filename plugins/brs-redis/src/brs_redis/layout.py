"""The archive layout of a backup, and the data directory a restore builds from it.

Archive members, in this order::

    redis/brs-redis.json   what the server said about itself (version, file names, appendonly)
    redis/dump.rdb         the RDB snapshot, as one stream (whatever the server's dbfilename was)

A restored data directory holds ``<dbfilename>`` and, when the server runs with
``appendonly yes``, a Redis 7 multi-part AOF (``<appenddirname>/<appendfilename>.1.base.rdb``
plus its manifest) whose base is the same RDB. A server started with ``appendonly yes`` on a
directory that has an RDB but no AOF starts *empty* (and its next save overwrites the RDB), so
the AOF must either be absent with ``appendonly no`` or point at the restored data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from brs.errors import ArchiveError, DatabaseError
from brs.kit.metadata import MetadataMember

__all__ = ["METADATA", "RDB", "RestoreLayout", "write_aof_manifest", "write_rdb"]

METADATA = MetadataMember("redis/brs-redis.json", format=1, plugin="brs-redis")
RDB = "redis/dump.rdb"
DEFAULT_APPENDDIRNAME = "appendonlydir"
DEFAULT_APPENDFILENAME = "appendonly.aof"
_MAGIC = b"REDIS"
_COPY = 1 << 20


@dataclass(frozen=True)
class RestoreLayout:
    """File names the restored directory must use; ``appendonly`` says whether to write an AOF."""

    dbfilename: str
    appendonly: bool
    appenddirname: str
    appendfilename: str

    @classmethod
    def resolve(
        cls, metadata: dict[str, Any], dbfilename: str, appendonly: str, appenddirname: str | None, appendfilename: str | None
    ) -> RestoreLayout:
        for what, name in (
            ("--redis-dbfilename", dbfilename),
            ("--redis-appenddirname", appenddirname),
            ("--redis-appendfilename", appendfilename),
        ):
            if name is not None and (not name or "/" in name or name in (".", "..")):
                raise DatabaseError(f"{what} {name!r} must be a plain file name")
        wants_aof = bool(metadata.get("appendonly")) if appendonly == "auto" else appendonly == "yes"
        return cls(
            dbfilename=dbfilename,
            appendonly=wants_aof,
            appenddirname=appenddirname or _plain(metadata.get("appenddirname")) or DEFAULT_APPENDDIRNAME,
            appendfilename=appendfilename or _plain(metadata.get("appendfilename")) or DEFAULT_APPENDFILENAME,
        )


def _plain(name: Any) -> str | None:
    return name if isinstance(name, str) and name and "/" not in name and name not in (".", "..") else None


def write_rdb(source: BinaryIO, target: Path) -> int:
    """Copy the RDB stream to ``target`` (a new file); returns its size."""
    size = 0
    with open(target, "xb") as out:
        head = source.read(len(_MAGIC))
        if head != _MAGIC:
            raise ArchiveError(f"{RDB} in the backup is not an RDB file")
        out.write(head)
        size += len(head)
        while piece := source.read(_COPY):
            out.write(piece)
            size += len(piece)
        out.flush()
        os.fsync(out.fileno())
    return size


def write_aof_manifest(target: Path, rdb: Path, layout: RestoreLayout) -> Path:
    """A Redis 7 multi-part AOF whose only part is the restored RDB as its base."""
    directory = target / layout.appenddirname
    directory.mkdir(mode=0o755)
    base_name = f"{layout.appendfilename}.1.base.rdb"
    try:
        # The same bytes twice would double the restore's disk use; a hard link costs nothing and
        # stays valid when the server later replaces either name.
        os.link(rdb, directory / base_name)
    except OSError:
        with open(rdb, "rb") as src, open(directory / base_name, "xb") as out:
            while piece := src.read(_COPY):
                out.write(piece)
    manifest = directory / f"{layout.appendfilename}.manifest"
    manifest.write_text(f"file {base_name} seq 1 type b\n")
    return directory
