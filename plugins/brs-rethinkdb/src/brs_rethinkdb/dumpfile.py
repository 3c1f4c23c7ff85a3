"""Reading a ``rethinkdb dump`` tarball: which tables it holds, and whether it is one at all."""

from __future__ import annotations

import tarfile
from pathlib import Path

from brs.errors import DatabaseError

__all__ = ["DUMP_MEMBER", "dump_tables"]

#: The one archive member of a backup: the dump tool's gzipped tarball, unchanged, so that
#: ``brs download`` plus ``rethinkdb restore`` works without brs too.
DUMP_MEMBER = "rethinkdb_dump.tar.gz"
_DATA_SUFFIXES = (".json", ".csv")


def dump_tables(path: Path) -> list[str]:
    """``db.table`` names of the tables in a dump tarball (empty for an empty database).

    The dump tool lays files out as ``rethinkdb_dump_DATE/DB/TABLE.{info,json}``; an empty
    database gives a valid tarball with no members, which ``rethinkdb restore`` refuses
    ("Archive file had no files"), so callers need to know.
    """
    tables = set()
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = member.name.strip("/").split("/")
                name = parts[-1]
                if len(parts) != 3 or not name.endswith((*_DATA_SUFFIXES, ".info")):
                    raise DatabaseError(f"{path.name} is not a rethinkdb dump: unexpected member {member.name!r}")
                if name.endswith(_DATA_SUFFIXES):
                    tables.add(f"{parts[1]}.{name.rsplit('.', 1)[0]}")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatabaseError(f"{path.name} is not a readable rethinkdb dump: {error}") from error
    return sorted(tables)
